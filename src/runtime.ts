import { Redis } from "ioredis";
import { hostname } from "node:os";
import type { Server } from "node:http";
import { resolve } from "node:path";
import { createProbeServer } from "./adapters/http/health.js";
import { createMetricsRoute } from "./adapters/metrics/index.js";
import { countDiscordCalls, countingSlackFetch, countLogBytes } from "./adapters/metrics/chat.js";
import { createHttpServer, listen, type Listener } from "./adapters/http/server.js";
import { createLocalLogStore } from "./adapters/logstore/local.js";
import { createS3LogStore } from "./adapters/logstore/s3.js";
import { createRedisBudget } from "./adapters/redis/budget.js";
import { createCancelBus } from "./adapters/redis/cancel.js";
import { createReplayGuard } from "./adapters/redis/replay.js";
import { createJobQueue } from "./adapters/redis/queue.js";
import { createDiscordApi, createDiscordChat, createDiscordPeople, createDiscordReceiver, startDiscordGateway } from "./adapters/discord/index.js";
import { createSlackChat, createSlackClient, createSlackPeople, createSlackReceiver, startSlackSocketMode } from "./adapters/slack/index.js";
import { createApp } from "./core/app.js";
import { createChatDirectory, type ChatAdapter } from "./core/chat.js";
import type { Config } from "./core/config.js";
import { connect, prepareDatabase, type Sql } from "./core/db.js";
import type { LogStore, Logger } from "./core/ports.js";
import { MessageBoard } from "./core/message-board.js";
import { startDelivery } from "./core/jobs/outbox.js";
import { startReaper } from "./core/reaper.js";
import { stopLostJob } from "./core/remote-processes.js";
import { startScheduler } from "./core/scheduler.js";
import { anchorKey, startAuditAnchors } from "./core/audit-anchor.js";
import { createSecretBox } from "./core/secret-box.js";
import { ensureIdentity } from "./core/identity.js";
import { createPlayground, createPlaygroundChat, playgroundPeople } from "./adapters/playground/index.js";
import { createPeopleDirectory } from "./core/people.js";
import { createPlaygroundStore } from "./adapters/playground/store.js";
import { newPlaygroundKey } from "./adapters/playground/guard.js";
import { placePlayground, type PlaygroundPlace } from "./adapters/playground/where.js";
import { grant } from "./core/access.js";
import { within } from "./core/concurrency.js";
import { startWorker } from "./worker/index.js";
import { createRemoteAccess } from "./adapters/ssh/remote.js";

export interface RunOptions {
  readonly serve: boolean;
  readonly work: boolean;
  readonly log: Logger;
  readonly workerName?: string;
  /** Lost-job detection timings (tests shorten them). */
  readonly heartbeatMs?: number;
  readonly lostAfterMs?: number;
  readonly sweepEveryMs?: number;
  /** How often schedules are re-read (tests shorten it). */
  readonly scheduleSyncMs?: number;
  /** How long a log may still take to store after its task's deadline (tests shorten it). */
  readonly logGraceMs?: number;
}

export interface Running {
  readonly port: number | undefined;
  /** The playground's start link (it carries the key of this start), when this process serves it. */
  readonly playgroundUrl: string | undefined;
  /** Where a worker-only process serves /healthz, /readyz and /metrics. */
  readonly workerPort: number | undefined;
  readonly sql: Sql;
  stop(): Promise<void>;
}

export function createLogStore(config: Config): LogStore & { close?(): void } {
  if (config.S3_BUCKET) {
    return createS3LogStore({
      endpoint: config.S3_ENDPOINT,
      bucket: config.S3_BUCKET,
      region: config.S3_REGION,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
    });
  }
  return createLocalLogStore(resolve(config.TESTUM_DATA_DIR, "logs"));
}

/**
 * Starts testum: the HTTP side (chat endpoints, log links, health), the
 * worker, or both in one process.
 */
export async function startTestum(config: Config, options: RunOptions): Promise<Running> {
  const { log } = options;
  for (const warning of config.warnings) log.warn({}, warning);
  await prepareDatabase(config.DATABASE_URL, log);
  const sql = connect(config.DATABASE_URL);
  // Commands fail fast while Redis is away instead of queueing in memory.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
  redis.on("error", (err) => log.warn({ err: err.message }, "Redis connection problem"));
  await redis.connect().catch((err: Error) => log.error({ err: err.message }, "Redis is not reachable yet"));
  const box = createSecretBox(config.previousMasterKey ? [config.masterKey, config.previousMasterKey] : [config.masterKey]);
  const logs = countLogBytes(createLogStore(config));
  const prefix = config.TESTUM_REDIS_PREFIX;
  const remote = createRemoteAccess({ sql, box });
  const identity = await ensureIdentity(sql, box, remote.generateKeyPair);
  log.info({ fingerprint: identity.fingerprint }, `testum's SSH identity: ${identity.fingerprint} (npx testum identity prints the public key)`);
  const budget = createRedisBudget(redis, `${prefix}:budget:`);

  const adapters: ChatAdapter[] = [];
  const routes: Record<string, Listener> = {};
  const stops: Array<() => Promise<void> | void> = [];
  const slowStops = new Map<() => Promise<void> | void, number>();

  // Config turns Slack on with the bot token and either the app-level token or the signing secret.
  const slackClient =
    config.SLACK_BOT_TOKEN && (config.SLACK_APP_TOKEN || config.SLACK_SIGNING_SECRET)
      ? createSlackClient({ botToken: config.SLACK_BOT_TOKEN, apiUrl: config.SLACK_API_URL }, log, countingSlackFetch)
      : undefined;
  if (slackClient) adapters.push(createSlackChat(slackClient, budget));
  // Config turns Discord on with the application id and the bot token, or leaves it off with neither.
  const discordApi =
    config.DISCORD_APPLICATION_ID && config.DISCORD_BOT_TOKEN ? createDiscordApi({ botToken: config.DISCORD_BOT_TOKEN, apiUrl: config.DISCORD_API_URL }) : undefined;
  if (discordApi) adapters.push(createDiscordChat(discordApi, budget, log));
  if (discordApi) countDiscordCalls(discordApi.rest);
  // The playground: on when asked, or when no chat platform is configured.
  const platforms = adapters.length;
  const playgroundOn = config.PLAYGROUND === "on" || (config.PLAYGROUND === "auto" && platforms === 0);
  if (playgroundOn) adapters.push(createPlaygroundChat(createPlaygroundStore(sql)));
  const chat = createChatDirectory(adapters);
  // Who someone is now, asked of their platform when a schedule fires or an approval is asked again.
  const people = createPeopleDirectory({
    ...(slackClient ? { slack: createSlackPeople(slackClient, log) } : {}),
    ...(discordApi ? { discord: createDiscordPeople(discordApi) } : {}),
    ...(playgroundOn ? { local: playgroundPeople } : {}),
  });
  // The playground's people have rights only while it is testum's only chat: next to Slack or
  // Discord, local:* identities hold nothing but what an admin grants them by name.
  const playgroundOnly = playgroundOn && platforms === 0;
  const admins = playgroundOnly ? [...config.TESTUM_ADMINS, "local:admin"] : config.TESTUM_ADMINS;
  if (playgroundOnly) await seedPlaygroundRoles(sql);
  else if (await dropPlaygroundRoles(sql)) log.warn({}, "removed the playground's demo roles (local:alice, local:bob): a chat platform is configured");

  const queue = createJobQueue(redis, prefix);
  const cancels = createCancelBus(redis, prefix);
  const replay = createReplayGuard(redis, prefix);
  stops.push(() => queue.close());
  // Every process delivers job messages to chat (see core/jobs/outbox.ts); stopped last, after the worker.
  // Its own few connections: a backlog of chat deliveries never takes the ones commands and jobs need.
  const deliverySql = connect(config.DATABASE_URL, { max: 3 });
  const delivery = startDelivery({
    sql: deliverySql,
    chat,
    log,
    owner: options.workerName ?? `${hostname()}:${process.pid}`,
    onBacklog: (pending) => {
      const total = Object.values(pending).reduce((a, b) => a + b, 0);
      if (total > 0) log.warn({ undelivered: pending }, `chat is behind: ${total} job message(s) not shown yet; they are delivered as the platform allows`);
    },
  });
  stops.push(async () => {
    await delivery.stop();
    await within(deliverySql.end({ timeout: 5 }), 8000, undefined);
  });
  const metrics = createMetricsRoute({ sql, log, queueCounts: () => queue.counts(), token: config.METRICS_TOKEN });
  routes["/metrics"] = metrics;

  let server: Server | undefined;
  let port: number | undefined;
  let playgroundUrl: string | undefined;
  let workerPort: number | undefined;
  if (options.serve) {
    const messages = new MessageBoard(chat, log);
    stops.push(() => messages.close());
    // With a worker in the same process, commands get connections of their own: a busy worker never delays an answer.
    const webSql = options.work ? connect(config.DATABASE_URL) : sql;
    if (webSql !== sql) stops.push(() => within(webSql.end({ timeout: 5 }), 8000, undefined));
    const core = createApp({
      sql: webSql,
      messages,
      cancels,
      replay,
      people,
      box,
      remote,
      chat,
      queue,
      log,
      settings: {
        admins,
        publicUrl: config.publicUrl,
        jobTimeoutMs: config.TESTUM_JOB_TIMEOUT,
        approvalHosts: config.TESTUM_APPROVAL_HOSTS,
        approvalsRequired: config.TESTUM_APPROVALS_REQUIRED,
        approvalTtlMs: config.TESTUM_APPROVAL_TTL,
        linkTtlMs: config.TESTUM_LINK_TTL,
        lang: config.TESTUM_LANG,
        mode: config.TESTUM_MODE,
      },
    });
    if (slackClient) {
      const deps = { settings: { botToken: config.SLACK_BOT_TOKEN!, apiUrl: config.SLACK_API_URL }, core, chat: chat.adapterFor("slack:"), log };
      if (config.SLACK_APP_TOKEN) {
        const socket = startSlackSocketMode({ ...deps, appToken: config.SLACK_APP_TOKEN, replay, fetch: countingSlackFetch });
        stops.push(() => socket.stop());
        const unused = config.SLACK_SIGNING_SECRET ? "; SLACK_SIGNING_SECRET is not used" : "";
        log.info({ adapter: "slack", transport: "socket" }, `Slack: on, over Socket Mode; nothing needs to reach testum from outside (SLACK_APP_TOKEN is set${unused})`);
      } else {
        routes["/slack/events"] = createSlackReceiver({ ...deps, signingSecret: config.SLACK_SIGNING_SECRET! }).listener;
        log.info({ adapter: "slack", transport: "http" }, `Slack: on, events posted to ${config.publicUrl}/slack/events (SLACK_SIGNING_SECRET is set; SLACK_APP_TOKEN would use Socket Mode instead)`);
      }
    } else {
      log.info({ adapter: "slack" }, "Slack: off (SLACK_BOT_TOKEN, with SLACK_APP_TOKEN or SLACK_SIGNING_SECRET, not set)");
    }
    if (discordApi) {
      const deps = { applicationId: config.DISCORD_APPLICATION_ID!, api: discordApi, core, chat: chat.adapterFor("discord:"), log };
      // The public key is only needed to check requests posted to the HTTP endpoint.
      const transport = config.DISCORD_TRANSPORT ?? (config.DISCORD_PUBLIC_KEY ? "http" : "gateway");
      if (transport === "http") {
        routes["/discord/interactions"] = createDiscordReceiver({ ...deps, publicKey: config.DISCORD_PUBLIC_KEY! }).listener;
        const why = config.DISCORD_TRANSPORT ? "DISCORD_TRANSPORT=http" : "DISCORD_PUBLIC_KEY is set";
        log.info({ adapter: "discord", transport }, `Discord: on, interactions posted to ${config.publicUrl}/discord/interactions (${why})`);
      } else {
        const gateway = startDiscordGateway({ ...deps, botToken: config.DISCORD_BOT_TOKEN!, replay });
        stops.push(() => gateway.stop());
        const why = config.DISCORD_TRANSPORT ? "DISCORD_TRANSPORT=gateway" : "DISCORD_PUBLIC_KEY is not set";
        log.info({ adapter: "discord", transport }, `Discord: on, over the Gateway; nothing needs to reach testum from outside (${why})`);
      }
    } else {
      log.info({ adapter: "discord" }, "Discord: off (DISCORD_APPLICATION_ID and DISCORD_BOT_TOKEN not set)");
    }
    const pingRedis = async () => void (await redis.ping());
    if (playgroundOn) {
      const key = newPlaygroundKey();
      let place: PlaygroundPlace | undefined;
      const playground = createPlayground({ sql, core, log, access: { key, allowedHosts: () => place?.allowedHosts ?? [] } });
      stops.push(() => playground.close());
      const playgroundRoutes = { ...routes, ...playground.routes };
      if (platforms === 0) {
        // Only the playground: the whole web side stays on the local address.
        server = createHttpServer({ sql, logs, log, pingRedis, routes: playgroundRoutes, linkTtlMs: config.TESTUM_LINK_TTL });
        port = await listen(server, config.PORT, config.PLAYGROUND_HOST);
        place = placePlayground(config.PLAYGROUND_HOST, port, key, config.PUBLIC_URL);
        log.info({ port }, `playground: on (no chat platform is configured). Open ${place.startUrl}`);
      } else {
        const extra = createHttpServer({ sql, logs, log, pingRedis, routes: playground.routes, linkTtlMs: config.TESTUM_LINK_TTL });
        const extraPort = await listen(extra, config.PLAYGROUND_PORT ?? config.PORT + 1, config.PLAYGROUND_HOST);
        stops.push(() => new Promise<void>((r) => (extra.close(() => r()), extra.closeAllConnections())));
        place = placePlayground(config.PLAYGROUND_HOST, extraPort, key, undefined);
        log.info({ port: extraPort }, `playground: on (PLAYGROUND=on; local:* identities hold only roles granted to them). Open ${place.startUrl}`);
      }
      if (place.warning) log.warn({ playgroundHost: config.PLAYGROUND_HOST }, place.warning);
      playgroundUrl = place.startUrl;
    } else {
      log.info({}, `playground: off (${config.PLAYGROUND === "off" ? "PLAYGROUND=off" : "a chat platform is configured; PLAYGROUND=on turns it on"})`);
    }
    if (!server) {
      server = createHttpServer({ sql, logs, log, pingRedis, routes, linkTtlMs: config.TESTUM_LINK_TTL });
      port = await listen(server, config.PORT, config.HOST);
    }
    log.info({ port, logs: logs.kind }, `testum is listening on port ${port}; links point at ${config.publicUrl}`);
  }

  if (options.work) {
    const workerConnection = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
    workerConnection.on("error", (err) => log.warn({ err: err.message }, "Redis connection problem (worker)"));
    const worker = startWorker({
      connection: workerConnection,
      prefix,
      sql,
      box,
      chat,
      logs,
      log,
      workerName: options.workerName ?? `${hostname()}:${process.pid}`,
      cancels,
      hostSlots: config.TESTUM_WORKER_HOSTS,
      publicUrl: config.publicUrl,
      // Several heartbeats fit in the time after which a silent job counts as lost.
      heartbeatMs: options.heartbeatMs ?? Math.min(10_000, config.TESTUM_LOST_AFTER / 4),
      logGraceMs: options.logGraceMs,
    });
    const stopWorker = async () => {
      await worker.close(config.TESTUM_SHUTDOWN_GRACE);
      workerConnection.disconnect();
    };
    // Running commands get the grace period, then up to half a minute to be stopped and recorded.
    slowStops.set(stopWorker, config.TESTUM_SHUTDOWN_GRACE + 30_000);
    stops.push(stopWorker);
    if (!options.serve) {
      // A worker alone still answers health checks (the web side's server does it otherwise).
      const probes = createProbeServer({ sql, log, logs, pingRedis: async () => void (await redis.ping()), routes: { "/metrics": metrics } });
      workerPort = await listen(probes, config.WORKER_PORT, config.HOST);
      stops.push(() => new Promise<void>((r) => (probes.close(() => r()), probes.closeAllConnections())));
    }
    log.info({ logs: logs.kind, port: workerPort }, `worker is running; logs go to ${logs.kind}${workerPort === undefined ? "" : `; health on port ${workerPort}`}`);
  }

  const scheduler = startScheduler({
    sql,
    chat,
    people,
    queue,
    log,
    publicUrl: config.publicUrl,
    admins,
    approvalHosts: config.TESTUM_APPROVAL_HOSTS,
    processName: options.workerName ?? `${hostname()}:${process.pid}`,
    catchUp: config.TESTUM_SCHEDULE_CATCHUP,
    mode: config.TESTUM_MODE,
    syncEveryMs: options.scheduleSyncMs,
  });
  stops.push(() => scheduler.stop());

  // The audit chain's head, signed with a key the database does not hold (see audit-anchor.ts).
  const anchors = startAuditAnchors({ sql, key: anchorKey(config.masterKey), log, everyMs: config.TESTUM_AUDIT_ANCHOR_EVERY });

  const reaper = startReaper({
    sql,
    chat,
    log,
    publicUrl: config.publicUrl,
    staleMs: options.lostAfterMs ?? config.TESTUM_LOST_AFTER,
    intervalMs: options.sweepEveryMs ?? Math.min(10_000, config.TESTUM_LOST_AFTER / 4),
    stopLeftovers: (job) => stopLostJob({ sql, remote, chat, log }, job),
  });
  stops.push(() => reaper.stop());

  return {
    port,
    playgroundUrl,
    workerPort,
    sql,
    /**
     * Stops accepting requests and jobs, lets running commands finish within
     * TESTUM_SHUTDOWN_GRACE, then stops them; every step is bounded, so this
     * ends whatever Postgres, Redis, the log store or a host is doing.
     */
    async stop() {
      if (server) {
        const closed = new Promise<void>((r) => server!.close(() => r()));
        server.closeAllConnections();
        await within(closed, 5000, undefined);
      }
      for (const stop of stops.reverse()) {
        await within(Promise.resolve().then(stop), STEP_MS + (slowStops.get(stop) ?? 0), undefined);
      }
      // Last, once nothing writes any more: the audit chain's final head.
      await within(anchors.stop(), STEP_MS, undefined);
      redis.disconnect();
      logs.close?.();
      await within(sql.end({ timeout: 5 }), 8000, undefined);
    },
  };
}

/** Longest any one part of testum may take to stop (the worker gets its grace period on top). */
const STEP_MS = 10_000;

/** Removes the roles seedPlaygroundRoles gave; true when there were some. */
async function dropPlaygroundRoles(sql: Sql): Promise<boolean> {
  const rows = await sql`delete from role_bindings where created_by = 'playground' and subject like 'local:%' returning id`;
  return rows.length > 0;
}

/** The playground's people: alice may run, bob may approve, admin may do anything (see TESTUM_ADMINS). */
async function seedPlaygroundRoles(sql: Sql): Promise<void> {
  await grant(sql, "playground", "local:alice", "operator", "*");
  await grant(sql, "playground", "local:bob", "approver", "*");
}
