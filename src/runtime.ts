import { Redis } from "ioredis";
import { hostname } from "node:os";
import type { Server } from "node:http";
import { resolve } from "node:path";
import { createProbeServer } from "./adapters/http/health.js";
import { createMetricsRoute } from "./adapters/metrics/index.js";
import { countLogBytes } from "./adapters/metrics/chat.js";
import { createHttpServer, listen, type Listener } from "./adapters/http/server.js";
import { createLocalLogStore } from "./adapters/logstore/local.js";
import { createS3LogStore } from "./adapters/logstore/s3.js";
import { createRedisBudget } from "./adapters/redis/budget.js";
import { createCancelBus } from "./adapters/redis/cancel.js";
import { createReplayGuard } from "./adapters/redis/replay.js";
import { createJobQueue } from "./adapters/redis/queue.js";
import type { ChatPlatform, Connected, Inbound, Off } from "./adapters/platform.js";
import { createApp } from "./core/app.js";
import { createChatDirectory, type ChatDirectory } from "./core/chat/chat.js";
import { identityForms, type Config } from "./config.js";
import { connect, openServerPool, prepareDatabase, SERVER_LIMITS, type Sql } from "./core/db.js";
import type { CancelBus, LogStore, Logger, PeopleLookup, RemoteAccess, ReplayGuard } from "./core/ports.js";
import { startDelivery } from "./core/jobs/delivery.js";
import { startReaper } from "./core/jobs/reaper.js";
import { stopLostJob } from "./core/jobs/remote-processes.js";
import { startScheduler } from "./core/schedules/scheduler.js";
import { anchorKey, startAuditAnchors } from "./core/access/audit-anchor.js";
import { createSecretBox, type SecretBox } from "./core/hosts/secret-box.js";
import { startParts, STOP_STEP_MS, type Part } from "./core/parts.js";
import { ensureIdentity } from "./core/hosts/identity.js";
import { createPeopleDirectory } from "./core/access/people.js";
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
  /** How long a job stays queued before its queue entry is checked (tests shorten it). */
  readonly requeueAfterMs?: number;
  /** How often schedules are re-read (tests shorten it). */
  readonly scheduleSyncMs?: number;
  /** How long a log may still take to store after its task's deadline (tests shorten it). */
  readonly logGraceMs?: number;
}

export interface Running {
  readonly port: number | undefined;
  /** The start link a platform gives (the playground's, with the key of this start), when this process serves it. */
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

/** What the parts of a running testum share: each part fills in what it provides for the ones after it. */
interface Shared {
  readonly config: Config;
  readonly options: RunOptions;
  readonly log: Logger;
  /** database */
  sql: Sql;
  /** redis */
  redis: Redis;
  pingRedis: () => Promise<void>;
  /** log store */
  logs: ReturnType<typeof countLogBytes>;
  /** identity */
  box: SecretBox;
  remote: RemoteAccess;
  /** chat */
  chat: ChatDirectory;
  /** Who someone is now, asked of their platform when a schedule fires or an approval is asked again. */
  people: PeopleLookup;
  /** Each platform, in the list's order: on (its ways in open with the web side), or off and why. */
  platforms: Array<{ readonly platform: ChatPlatform; readonly state: Connected | Off }>;
  admins: readonly string[];
  /** queue */
  queue: ReturnType<typeof createJobQueue>;
  cancels: CancelBus;
  replay: ReplayGuard;
  metrics: Listener;
  /** What startTestum returns. */
  port: number | undefined;
  playgroundUrl: string | undefined;
  workerPort: number | undefined;
}

const processName = (ctx: Shared) => ctx.options.workerName ?? `${hostname()}:${process.pid}`;

const database: Part<Shared> = {
  name: "database",
  async start(ctx) {
    await prepareDatabase(ctx.config.DATABASE_URL, ctx.log);
    // Opened before anything asks (DATABASE_WARM_CONNECTIONS): a first burst of commands or jobs does not wait for them.
    const pool = await openServerPool(ctx.config.DATABASE_URL, ctx.config.DATABASE_WARM_CONNECTIONS);
    ctx.sql = pool.sql;
    return { stop: () => pool.close(), stopWithinMs: 8000 };
  },
};

/** Longest one Redis command may take (the commands testum sends take milliseconds). */
const REDIS_COMMAND_TIMEOUT_MS = 2000;

const redis: Part<Shared> = {
  name: "Redis",
  async start(ctx) {
    const { config, log } = ctx;
    // Commands fail fast while Redis is away instead of queueing in memory, and after
    // REDIS_COMMAND_TIMEOUT_MS when it is there but does not answer (stalled, or the network dropped
    // the connection without closing it). Only the worker's own connection has no such limit: it
    // blocks while it waits for jobs, by design.
    const redis = (ctx.redis = new Redis(config.REDIS_URL, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      lazyConnect: true,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    }));
    redis.on("error", (err) => log.warn({ err: err.message }, "Redis connection problem"));
    await redis.connect().catch((err: Error) => log.error({ err: err.message }, "Redis is not reachable yet"));
    ctx.pingRedis = async () => void (await redis.ping());
    return { stop: () => redis.disconnect() };
  },
};

const logStore: Part<Shared> = {
  name: "log store",
  start(ctx) {
    const logs = (ctx.logs = countLogBytes(createLogStore(ctx.config)));
    return { stop: () => logs.close?.() };
  },
};

const identity: Part<Shared> = {
  name: "identity",
  async start(ctx) {
    const { config, log } = ctx;
    ctx.box = createSecretBox(config.previousMasterKey ? [config.masterKey, config.previousMasterKey] : [config.masterKey]);
    ctx.remote = createRemoteAccess({ sql: ctx.sql, box: ctx.box });
    const identity = await ensureIdentity(ctx.sql, ctx.box, ctx.remote.generateKeyPair);
    log.info({ fingerprint: identity.fingerprint }, `testum's SSH identity: ${identity.fingerprint} (npx testum identity prints the public key)`);
  },
};

/**
 * The chat platforms (web and worker processes alike post and edit messages), and who is an admin.
 * Stand-ins (the playground) connect after the others and are told how many of those are on.
 */
const chat: Part<Shared> = {
  name: "chat",
  async start(ctx) {
    const { config, log, sql } = ctx;
    const budget = createRedisBudget(ctx.redis, `${config.TESTUM_REDIS_PREFIX}:budget:`);
    const states = new Map<ChatPlatform, Connected | Off>();
    const on = () => [...states.values()].filter((s): s is Connected => !("off" in s));
    for (const platform of [...config.platforms.filter((p) => !p.standIn), ...config.platforms.filter((p) => p.standIn)]) {
      const state = await platform.connect(config, { sql, log, budget, chatPlatformsOn: platform.standIn ? on().length : 0 });
      // Core routes every reference by its prefix to the adapter of that platform (ChatDirectory).
      if (!("off" in state) && state.adapter.platform !== platform.id) {
        throw new Error(`${platform.name}: its adapter says platform "${state.adapter.platform}", but its id is "${platform.id}"; they must be the same`);
      }
      states.set(platform, state);
    }
    ctx.platforms = config.platforms.map((platform) => ({ platform, state: states.get(platform)! }));
    ctx.chat = createChatDirectory(on().map((c) => c.adapter));
    ctx.people = createPeopleDirectory(Object.fromEntries(ctx.platforms.flatMap(({ platform, state }) => ("off" in state ? [] : [[platform.id, state.people]]))));
    ctx.admins = [...config.TESTUM_ADMINS, ...on().flatMap((c) => c.admins ?? [])];
  },
};

const queue: Part<Shared> = {
  name: "queue",
  start(ctx) {
    const prefix = ctx.config.TESTUM_REDIS_PREFIX;
    const queue = (ctx.queue = createJobQueue(ctx.redis, prefix));
    ctx.cancels = createCancelBus(ctx.redis, prefix);
    ctx.replay = createReplayGuard(ctx.redis, prefix);
    ctx.metrics = createMetricsRoute({ sql: ctx.sql, log: ctx.log, queueCounts: () => queue.counts(), token: ctx.config.METRICS_TOKEN });
    return { stop: () => queue.close() };
  },
};

/** The audit chain's head, signed with a key the database does not hold (see audit-anchor.ts); stopped once nothing writes any more. */
const auditAnchors: Part<Shared> = {
  name: "audit anchors",
  start({ sql, config, log }) {
    return startAuditAnchors({ sql, key: anchorKey(config.masterKey), log, everyMs: config.TESTUM_AUDIT_ANCHOR_EVERY });
  },
};

/**
 * Every process delivers job messages to chat (see core/jobs/delivery.ts), with a few database
 * connections of its own: a backlog of chat deliveries never takes the ones commands and jobs
 * need. Started before the worker and the web side, so it stops after them.
 */
const delivery: Part<Shared> = {
  name: "chat delivery",
  start(ctx) {
    const { config, log } = ctx;
    const deliverySql = connect(config.DATABASE_URL, { max: 3, name: "testum-delivery", limits: SERVER_LIMITS });
    const delivery = startDelivery({
      sql: deliverySql,
      chat: ctx.chat,
      log,
      owner: processName(ctx),
      onBacklog: (pending) => {
        const total = Object.values(pending).reduce((a, b) => a + b, 0);
        if (total > 0) log.warn({ undelivered: pending }, `chat is behind: ${total} job message(s) not shown yet; they are delivered as the platform allows`);
      },
    });
    return {
      async stop() {
        await delivery.stop();
        await within(deliverySql.end({ timeout: 5 }), 8000, undefined);
      },
      stopWithinMs: STOP_STEP_MS + 12_000,
    };
  },
};

const worker: Part<Shared> = {
  name: "worker",
  async start(ctx) {
    const { config, log, options } = ctx;
    const workerConnection = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
    workerConnection.on("error", (err) => log.warn({ err: err.message }, "Redis connection problem (worker)"));
    const worker = startWorker({
      connection: workerConnection,
      prefix: config.TESTUM_REDIS_PREFIX,
      sql: ctx.sql,
      box: ctx.box,
      chat: ctx.chat,
      logs: ctx.logs,
      log,
      workerName: processName(ctx),
      cancels: ctx.cancels,
      hostSlots: config.TESTUM_WORKER_HOSTS,
      sshReadyTimeoutMs: config.TESTUM_SSH_CONNECT_TIMEOUT,
      publicUrl: config.publicUrl,
      // Several heartbeats fit in the time after which a silent job counts as lost.
      heartbeatMs: options.heartbeatMs ?? Math.min(10_000, config.TESTUM_LOST_AFTER / 4),
      logGraceMs: options.logGraceMs,
    });
    let probes: Server | undefined;
    if (!options.serve) {
      // A worker alone still answers health checks (the web side's server does it otherwise).
      probes = createProbeServer({ sql: ctx.sql, log, logs: ctx.logs, pingRedis: ctx.pingRedis, routes: { "/metrics": ctx.metrics } });
      ctx.workerPort = await listen(probes, config.WORKER_PORT, config.HOST);
    }
    const workerPort = ctx.workerPort;
    log.info({ logs: ctx.logs.kind, port: workerPort }, `worker is running; logs go to ${ctx.logs.kind}${workerPort === undefined ? "" : `; health on port ${workerPort}`}`);
    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        await worker.close(config.TESTUM_SHUTDOWN_GRACE);
        workerConnection.disconnect();
        if (probes) await within(closeServer(probes), 5000, undefined);
      })());
    return {
      // The grace period for running commands starts with the signal, not when the parts before the worker have stopped.
      beginStop: () => void close(),
      stop: close,
      // Running commands get the grace period, then up to half a minute to be stopped and recorded.
      stopWithinMs: STOP_STEP_MS + config.TESTUM_SHUTDOWN_GRACE + 30_000,
    };
  },
};

const reaper: Part<Shared> = {
  name: "reaper",
  start(ctx) {
    const { sql, chat, log, config, options, remote } = ctx;
    return startReaper({
      sql,
      chat,
      log,
      publicUrl: config.publicUrl,
      staleMs: options.lostAfterMs ?? config.TESTUM_LOST_AFTER,
      queue: ctx.queue,
      requeueAfterMs: options.requeueAfterMs,
      intervalMs: options.sweepEveryMs ?? Math.min(10_000, config.TESTUM_LOST_AFTER / 4),
      stopLeftovers: (job) => stopLostJob({ sql, remote, chat, log }, job),
    });
  },
};

const scheduler: Part<Shared> = {
  name: "scheduler",
  start(ctx) {
    const { config } = ctx;
    return startScheduler({
      sql: ctx.sql,
      people: ctx.people,
      queue: ctx.queue,
      log: ctx.log,
      publicUrl: config.publicUrl,
      admins: ctx.admins,
      approvalHosts: config.TESTUM_APPROVAL_HOSTS,
      processName: processName(ctx),
      catchUp: config.TESTUM_SCHEDULE_CATCHUP,
      mode: config.TESTUM_MODE,
      syncEveryMs: ctx.options.scheduleSyncMs,
    });
  },
};

/**
 * The web side: core's request handling, the chat platforms' ways in (HTTP
 * endpoints, sockets), log links and health. Started last and stopped first:
 * testum takes no request before the rest is ready, and none once stopping.
 */
const web: Part<Shared> = {
  name: "web side",
  async start(ctx) {
    const { config, log, sql, chat, replay } = ctx;
    const stops: Array<() => Promise<void> | void> = [];
    const routes: Record<string, Listener> = { "/metrics": ctx.metrics };
    // With a worker in the same process, commands get connections of their own: a busy worker never delays an answer.
    const webPool = ctx.options.work ? await openServerPool(config.DATABASE_URL, config.DATABASE_WARM_CONNECTIONS, "testum-web") : undefined;
    if (webPool) stops.push(() => within(webPool.close(), 8000, undefined));
    const webSql = webPool?.sql ?? sql;
    const core = createApp({
      sql: webSql,
      cancels: ctx.cancels,
      replay,
      people: ctx.people,
      box: ctx.box,
      remote: ctx.remote,
      chat,
      queue: ctx.queue,
      log,
      settings: {
        admins: ctx.admins,
        publicUrl: config.publicUrl,
        jobTimeoutMs: config.TESTUM_JOB_TIMEOUT,
        approvalHosts: config.TESTUM_APPROVAL_HOSTS,
        approvalsRequired: config.TESTUM_APPROVALS_REQUIRED,
        approvalTtlMs: config.TESTUM_APPROVAL_TTL,
        linkTtlMs: config.TESTUM_LINK_TTL,
        lang: config.TESTUM_LANG,
        mode: config.TESTUM_MODE,
        identities: identityForms(config.platforms),
      },
    });
    const { logs, pingRedis } = ctx;
    const serve = async (own: Readonly<Record<string, Listener>>, port: number, host: string) => {
      const extra = createHttpServer({ sql, logs, log, pingRedis, routes: own, linkTtlMs: config.TESTUM_LINK_TTL });
      stops.push(() => closeServer(extra));
      return listen(extra, port, host);
    };
    // Each platform's ways in, in the list's order; a platform that is off says why.
    const inbound: Inbound[] = [];
    for (const { platform, state } of ctx.platforms) {
      if ("off" in state) {
        log.info({ adapter: platform.id }, state.off);
        continue;
      }
      const ways = await state.listen({ core, chat: chat.adapterFor(`${platform.id}:`), replay, serve });
      if (ways.stop) stops.push(() => ways.stop?.());
      Object.assign(routes, ways.routes);
      inbound.push(ways);
    }
    const server = createHttpServer({ sql, logs, log, pingRedis, routes, linkTtlMs: config.TESTUM_LINK_TTL });
    const port = await listen(server, config.PORT, inbound.find((i) => i.host)?.host ?? config.HOST);
    for (const ways of inbound) ways.listening?.(port);
    log.info({ port, logs: ctx.logs.kind }, `testum is listening on port ${port}; links point at ${config.publicUrl}`);
    ctx.port = port;
    ctx.playgroundUrl = inbound.map((i) => i.startUrl?.()).find((url) => url !== undefined);
    return {
      async stop() {
        // No new requests first; then the platforms' own connections.
        await within(closeServer(server), 5000, undefined);
        for (const stop of stops.reverse()) await within(Promise.resolve().then(stop), STOP_STEP_MS, undefined);
      },
      stopWithinMs: 5000 + STOP_STEP_MS * (stops.length + 1),
    };
  },
};

/** How long a whole stop may take beyond TESTUM_SHUTDOWN_GRACE: stopping commands still running, recording them, closing connections. */
const STOP_TOTAL_AFTER_GRACE_MS = 30_000;

/** testum's parts in the order they start; they stop in the reverse order. */
function partsOf(options: RunOptions): Part<Shared>[] {
  return [database, redis, logStore, identity, chat, queue, auditAnchors, delivery, ...(options.work ? [worker] : []), reaper, scheduler, ...(options.serve ? [web] : [])];
}

/**
 * Starts testum: the web side (chat platforms' ways in, log links, health),
 * the worker, or both in one process, as parts that each start and stop
 * themselves (see core/parts.ts).
 */
export async function startTestum(config: Config, options: RunOptions): Promise<Running> {
  const { log } = options;
  for (const warning of config.warnings) log.warn({}, warning);
  const ctx = { config, options, log, port: undefined, playgroundUrl: undefined, workerPort: undefined } as Shared;
  // However much hangs outside, a stop ends about half a minute after the grace period (container
  // platforms kill a process that takes much longer; Kubernetes waits 30 s by default).
  const running = await startParts(partsOf(options), ctx, log, { totalMs: config.TESTUM_SHUTDOWN_GRACE + STOP_TOTAL_AFTER_GRACE_MS });
  return {
    port: ctx.port,
    playgroundUrl: ctx.playgroundUrl,
    workerPort: ctx.workerPort,
    sql: ctx.sql,
    /**
     * Stops accepting requests and jobs, lets running commands finish within
     * TESTUM_SHUTDOWN_GRACE, then stops them; every step is bounded, so this
     * ends whatever Postgres, Redis, the log store or a host is doing.
     */
    stop: async () => running.stop(),
  };
}

function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((r) => server.close(() => r()));
  server.closeAllConnections();
  return closed;
}
