/**
 * A stateful local fake of the Discord REST API (v10) for tests: real @discordjs/rest /
 * @discordjs/core clients talk to it over HTTP on 127.0.0.1, and tests assert on its state.
 *
 *   const discord = await startFakeDiscord();
 *   const api = new API(new REST({ api: discord.api, version: '10' }).setToken(discord.botToken));
 *
 * The rules it enforces, with their sources, live in the modules it is built from:
 * discord-limits (message limits), discord-mentions (who a message pings), discord-ratelimit
 * (buckets, global limit, 429s), discord-commands (command validation), discord-state
 * (threads), discord-interaction-routes (3 s / 15 min interaction rules), discord-dispatch
 * (request pipeline).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIApplicationCommand, APIChannel, APIMessage } from 'discord-api-types/v10';
import { channelRoutes } from './discord-channel-routes.js';
import { createClock, createSnowflakes } from './discord-clock.js';
import { createCommandStore } from './discord-commands.js';
import { type FailureSpec, type InjectedFailure, type RouteMatcher, createDispatcher } from './discord-dispatch.js';
import { DiscordHttpError, discordErrors } from './discord-errors.js';
import { createFakeGateway, type FakeGateway } from './discord-gateway.js';
import { interactionRoutes } from './discord-interaction-routes.js';
import type { PingOutcome } from './discord-mentions.js';
import { DEFAULT_MESSAGE_LIMIT, DEFAULT_ROUTE_LIMIT, GLOBAL_LIMIT, RateLimiter, type RouteLimit } from './discord-ratelimit.js';
import { type DiscordRouteKey, ok, route } from './discord-router.js';
import { type CallbackRecord, DiscordState, type InteractionRecord, type MessageEdit, type MessageRecord, type MessageSource, type PingRecord } from './discord-state.js';

export type { CallbackRecord, DiscordRouteKey, FailureSpec, MessageEdit, PingOutcome, PingRecord, RouteLimit, RouteMatcher };
export { INTERACTION_TOKEN_LIFETIME_MS } from './discord-interaction-routes.js';

export interface FakeDiscordOptions {
  /** Expected in `Authorization: Bot <token>`. Default 'test-bot-token'. */
  botToken?: string;
  /** A snowflake; generated when absent. */
  applicationId?: string;
  /** The bot user's id. Default: the application id (true of current Discord apps). */
  botUserId?: string;
  botUsername?: string;
  /** Fake time at start-up (ms since the Unix epoch); default now. */
  startTime?: number;
  /**
   * Only `advance()` moves a frozen clock. Default false: fake time runs with real time plus
   * whatever was advanced, because @discordjs/rest sleeps in real time before retrying a 429.
   */
  frozenClock?: boolean;
  /** Per-route limits; message create and edit default to 5 per 5 s per channel. */
  routeLimits?: Partial<Record<DiscordRouteKey, RouteLimit>>;
  /** Limit for routes without their own; default 50 per second. */
  defaultRouteLimit?: RouteLimit;
  /** Global per-token limit; default 50 per second. */
  globalLimit?: RouteLimit;
  /** The Gateway's heartbeat interval; default Discord's 41,250 ms. */
  heartbeatIntervalMs?: number;
  /** Privileged intents the app was granted (GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT bits). Default none. */
  privilegedIntents?: number;
}

export interface IssueInteractionOptions {
  /** 2 APPLICATION_COMMAND (default), 3 MESSAGE_COMPONENT, 4 AUTOCOMPLETE, 5 MODAL_SUBMIT. */
  type?: 2 | 3 | 4 | 5;
  /** Default: the default channel. */
  channelId?: string;
  /** The user who triggered it. Default: a fixed fake user id. */
  userId?: string;
  /** For components: the message holding the component (needed for callback types 6 and 7). */
  messageId?: string;
  commandName?: string;
}

export interface IssuedInteraction {
  id: string;
  token: string;
  applicationId: string;
  type: number;
  channelId: string;
  guildId: string | null;
  userId: string;
  issuedAt: number;
}

export interface RequestRecord {
  method: string;
  /** Path after `/api/v10`. */
  path: string;
  query: string;
  route: DiscordRouteKey | null;
  status: number;
  at: number;
  body: unknown;
}

/** A stored message: its wire form plus what the fake knows about its history. */
export type FakeMessage = APIMessage & {
  edits: MessageEdit[];
  deleted: boolean;
  source: MessageSource;
  interactionId: string | null;
  wouldPing: PingOutcome;
};

export interface FakeDiscord {
  readonly origin: string;
  /** Pass to `new REST({ api, version: '10' })`; routes live under `${api}/v10`. */
  readonly api: string;
  readonly botToken: string;
  readonly applicationId: string;
  readonly botUserId: string;
  /** Default guild and text channel. */
  readonly guildId: string;
  readonly channelId: string;
  now(): number;
  advance(ms: number): void;
  createGuild(opts?: { name?: string }): string;
  createChannel(guildId: string, opts?: { name?: string }): string;
  createRole(guildId: string, opts?: { name?: string; mentionable?: boolean }): string;
  addMember(guildId: string, userId: string, opts: { username: string; nick?: string; globalName?: string; roles?: string[] }): void;
  /** The member leaves the guild (Get Guild Member then answers 10007 Unknown Member). */
  removeMember(guildId: string, userId: string): void;
  /** A message written by a human, e.g. to test that the bot cannot edit it. */
  postUserMessage(channelId: string, opts: { userId: string; content: string }): string;
  /** Registers an interaction as Discord does on delivery; its 3 s and 15 min clocks start now. */
  issueInteraction(opts?: IssueInteractionOptions): IssuedInteraction;
  /** The Gateway (GET /gateway/bot points at it): sessions, RECONNECT, INVALID_SESSION, dropped connections. */
  readonly gateway: FakeGateway;
  /**
   * Delivers an interaction over the Gateway as INTERACTION_CREATE, registered under the
   * payload's own id and token so the callback route accepts it (3 s and 15 min from now).
   */
  deliverInteraction(payload: { id: string; token: string; type: number }): { id: string; seq: number };
  /**
   * Registers an interaction that reaches the app as a signed POST to its endpoint, under the
   * payload's own id and token, as Discord knows every interaction it sends (3 s and 15 min from now).
   */
  registerInteraction(payload: { id: string; token: string; type: number }): void;
  setRouteLimit(route: DiscordRouteKey, limit: RouteLimit): void;
  /** The next `times` requests matching `matcher` fail with `failure`, before any other processing but the token check. */
  failNext(matcher: RouteMatcher, failure: FailureSpec, times?: number): void;
  messages(channelId?: string, opts?: { includeDeleted?: boolean }): FakeMessage[];
  message(id: string): FakeMessage | undefined;
  channel(id: string): APIChannel | undefined;
  threads(): APIChannel[];
  callbacks(): CallbackRecord[];
  /** Messages created by interaction responses and follow-ups. */
  webhookMessages(): FakeMessage[];
  commands(guildId?: string): APIApplicationCommand[];
  /** Every message that would have notified someone (and edits that made a message render as a mention). */
  pings(): PingRecord[];
  requests(): RequestRecord[];
  rateLimitedCount(): number;
  /** 401, 403 and 429 responses; rate-limits.mdx: 10,000 of them per 10 minutes get an IP banned. */
  invalidRequestCount(): number;
  /** Resolves with the predicate's first truthy value; re-checked after every request and every 25 ms. */
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** resources/message.mdx: request bodies are capped at 25 MiB. */
const MAX_BODY_BYTES = 25 * 1024 * 1024;

export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const clock = createClock({ ...(options.startTime !== undefined ? { startTime: options.startTime } : {}), frozen: options.frozenClock ?? false });
  const ids = createSnowflakes(clock);
  const botToken = options.botToken ?? 'test-bot-token';
  const applicationId = options.applicationId ?? ids.next();
  const botUserId = options.botUserId ?? applicationId;
  const state = new DiscordState(clock, ids, { id: botUserId, username: options.botUsername ?? 'testum', globalName: null, bot: true });
  const commands = createCommandStore(applicationId, ids);
  const env = { state, commands, applicationId };
  const limiter = new RateLimiter(clock, options.defaultRouteLimit ?? DEFAULT_ROUTE_LIMIT, options.globalLimit ?? GLOBAL_LIMIT, {
    'POST /channels/:channel_id/messages': DEFAULT_MESSAGE_LIMIT,
    'PATCH /channels/:channel_id/messages/:message_id': DEFAULT_MESSAGE_LIMIT,
    ...(options.routeLimits as Record<string, RouteLimit> | undefined),
  });
  const failures: InjectedFailure[] = [];
  let origin = '';
  const gateway = createFakeGateway({
    botToken,
    applicationId,
    botUser: { id: botUserId, username: options.botUsername ?? 'testum' },
    guilds: () => [...state.guilds.values()].map((g) => ({ id: g.id, name: g.name })),
    origin: () => origin,
    newSessionId: () => randomBytes(16).toString('hex'),
    ...(options.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: options.heartbeatIntervalMs } : {}),
    ...(options.privilegedIntents !== undefined ? { privilegedIntents: options.privilegedIntents } : {}),
  });
  // topics/gateway.mdx "Get Gateway Bot".
  const gatewayRoute = route('GET /gateway/bot', () => ok({ url: gateway.url, shards: 1, session_start_limit: gateway.sessionStartLimit() }), { major: () => 'gateway' });
  const dispatch = createDispatcher({ routes: [gatewayRoute, ...channelRoutes(env), ...interactionRoutes(env)], limiter, clock, botToken, failures });
  const requestLog: RequestRecord[] = [];
  const changes = new EventEmitter();
  const counts = { rateLimited: 0, invalid: 0 };
  const defaultUserId = ids.next();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req).catch((error: unknown) => {
      if (error instanceof DiscordHttpError) return error;
      throw error;
    });
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const at = clock.now();
    const r = dispatch({ method, url, authorization: req.headers.authorization, contentType: req.headers['content-type'], raw });
    if (r.status === 429) counts.rateLimited += 1;
    if ((r.status === 401 || r.status === 403 || r.status === 429) && r.headers['x-ratelimit-scope'] !== 'shared') counts.invalid += 1;
    requestLog.push({ method, path: r.path, query: url.search, route: r.route, status: r.status, at, body: r.requestBody });
    if (r.status === 204 || r.body === undefined) res.writeHead(r.status, r.headers).end();
    else res.writeHead(r.status, { ...r.headers, 'content-type': 'application/json' }).end(JSON.stringify(r.body));
    changes.emit('change');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 0, message: String(error) }));
    });
  });
  server.on('upgrade', (req, socket, head) => {
    if (!gateway.upgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const createGuild = (opts: { name?: string } = {}) => {
    const id = ids.next();
    // permissions.mdx: the @everyone role's id is the guild id.
    const everyone = { id, name: '@everyone', mentionable: false };
    state.guilds.set(id, { id, name: opts.name ?? `guild-${id.slice(-4)}`, roles: new Map([[id, everyone]]), members: new Map() });
    return id;
  };
  const createChannel = (guildId: string, opts: { name?: string } = {}) => {
    state.guildOr404(guildId);
    const id = ids.next();
    state.channels.set(id, { id, type: 0, guildId, name: opts.name ?? 'general', topic: null, parentId: null, lastMessageId: null, thread: null });
    return id;
  };
  const guildId = createGuild({ name: 'testum-test' });
  const channelId = createChannel(guildId, { name: 'ops' });

  const toFake = (rec: MessageRecord): FakeMessage => ({
    ...state.messageJson(rec),
    edits: structuredClone(rec.edits),
    deleted: rec.deleted,
    source: rec.source,
    interactionId: rec.interactionId,
    wouldPing: structuredClone(rec.pings),
  });

  const registerInteraction = (payload: { id: string; token: string; type: number }): void => {
    const p = payload as unknown as Record<string, unknown> & {
      channel?: { id?: string };
      member?: { user?: { id?: string } };
      user?: { id?: string };
      message?: { id?: string };
      data?: { name?: string };
    };
    const target = String(p.channel_id ?? p.channel?.id ?? channelId);
    const rec: InteractionRecord = {
      id: payload.id,
      token: payload.token,
      type: payload.type,
      channelId: target,
      guildId: typeof p.guild_id === 'string' ? p.guild_id : null,
      userId: String(p.member?.user?.id ?? p.user?.id ?? defaultUserId),
      messageId: p.message?.id ?? null,
      commandName: p.data?.name ?? 'testum',
      issuedAt: clock.now(),
      callback: null,
      originalMessageId: null,
      originalLoading: false,
      followupIds: [],
    };
    // Discord sends an interaction once; a replayed copy (RESUME) carries the same id and token.
    if (!state.interactions.has(rec.id)) state.interactions.set(rec.id, rec);
  };

  return {
    origin,
    api: `${origin}/api`,
    botToken,
    applicationId,
    botUserId,
    guildId,
    channelId,
    now: () => clock.now(),
    advance(ms) {
      clock.advance(ms);
      changes.emit('change');
    },
    createGuild,
    createChannel,
    createRole(guild, opts = {}) {
      const id = ids.next();
      state.guildOr404(guild).roles.set(id, { id, name: opts.name ?? `role-${id.slice(-4)}`, mentionable: opts.mentionable ?? true });
      return id;
    },
    addMember(guild, userId, opts) {
      const g = state.guildOr404(guild);
      state.users.set(userId, { id: userId, username: opts.username, globalName: opts.globalName ?? null, bot: false });
      for (const role of opts.roles ?? []) if (!g.roles.has(role)) g.roles.set(role, { id: role, name: `role-${role.slice(-4)}`, mentionable: true });
      g.members.set(userId, { userId, nick: opts.nick ?? null, roles: [...(opts.roles ?? [])], joinedAt: clock.now() });
    },
    removeMember(guild, userId) {
      state.guildOr404(guild).members.delete(userId);
    },
    postUserMessage(channel, opts) {
      const ch = state.channelOr404(channel);
      if (!state.users.has(opts.userId)) state.users.set(opts.userId, { id: opts.userId, username: `user${opts.userId.slice(-4)}`, globalName: null, bot: false });
      const rec = state.createMessage(ch, { content: opts.content }, { authorId: opts.userId, source: 'user' });
      changes.emit('change');
      return rec.id;
    },
    issueInteraction(opts = {}) {
      const ch = state.channelOr404(opts.channelId ?? channelId);
      const rec: InteractionRecord = {
        id: ids.next(),
        // Interaction tokens are long opaque URL-safe strings.
        token: `aW50ZXJhY3Rpb246${randomBytes(96).toString('base64url')}`,
        type: opts.type ?? 2,
        channelId: ch.id,
        guildId: ch.guildId,
        userId: opts.userId ?? defaultUserId,
        messageId: opts.messageId ?? null,
        commandName: opts.commandName ?? 'testum',
        issuedAt: clock.now(),
        callback: null,
        originalMessageId: null,
        originalLoading: false,
        followupIds: [],
      };
      state.interactions.set(rec.id, rec);
      return { id: rec.id, token: rec.token, applicationId, type: rec.type, channelId: ch.id, guildId: rec.guildId, userId: rec.userId, issuedAt: rec.issuedAt };
    },
    gateway,
    registerInteraction,
    deliverInteraction(payload) {
      registerInteraction(payload);
      return { id: payload.id, seq: gateway.dispatch('INTERACTION_CREATE', payload) };
    },
    setRouteLimit: (route, limit) => limiter.setRouteLimit(route, limit),
    failNext(matcher, failure, times = 1) {
      failures.push({ matcher, failure, remaining: times });
    },
    messages(channel, opts = {}) {
      return [...state.messages.values()].filter((m) => (channel === undefined || m.channelId === channel) && (opts.includeDeleted || !m.deleted)).map(toFake);
    },
    message(id) {
      const rec = state.messages.get(id);
      return rec ? toFake(rec) : undefined;
    },
    channel(id) {
      const ch = state.channels.get(id);
      return ch ? state.channelJson(ch) : undefined;
    },
    threads: () => [...state.channels.values()].filter((c) => c.type === 11).map((c) => state.channelJson(c)),
    callbacks: () => structuredClone(state.callbacks),
    webhookMessages: () => [...state.messages.values()].filter((m) => m.source === 'interaction').map(toFake),
    commands: (guild) => commands.list(guild ?? null),
    pings: () => structuredClone(state.pings),
    requests: () => structuredClone(requestLog),
    rateLimitedCount: () => counts.rateLimited,
    invalidRequestCount: () => counts.invalid,
    waitFor: (predicate, timeoutMs = 5_000) => waitFor(changes, predicate, timeoutMs),
    close() {
      gateway.close();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

function waitFor<T>(changes: EventEmitter, predicate: () => T | undefined | null | false, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const finish = () => {
      done = true;
      changes.off('change', check);
      clearInterval(poll);
      clearTimeout(timer);
    };
    function check(): void {
      if (done) return;
      try {
        const value = predicate();
        if (value) {
          finish();
          resolve(value);
        }
      } catch (error) {
        finish();
        reject(error);
      }
    }
    changes.on('change', check);
    const poll = setInterval(check, 25);
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`fake discord: waitFor timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    check();
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer);
  }
  if (size > MAX_BODY_BYTES) throw discordErrors.payloadTooLarge();
  return Buffer.concat(chunks);
}
