/**
 * A stateful local fake of the Slack Web API for tests that run the real
 * @slack/web-api WebClient (or Bolt) against it: point `slackApiUrl` at
 * `fake.url`. It keeps channels, messages, edits, ephemerals, views and
 * response_url posts, enforces Slack's documented limits and answers errors
 * the way Slack does (HTTP 200 with `ok:false`, or 429 with Retry-After).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerHook } from './slack-hooks.js';
import { decodeArgs, readBody, sendJson, str } from './slack-http.js';
import { METHODS } from './slack-methods.js';
import { createRateLimiter } from './slack-rate-limit.js';
import { createFakeSocketMode } from './slack-socket.js';
import { DEFAULT_CHANNEL_ID, DEFAULT_USER_ID, SlackState } from './slack-state.js';
import type { FakeCall, FakeSlack, FakeSlackOptions, FakeTeam, FakeTeamOptions, InjectedFailure, SlackArgs } from './slack-types.js';

export type * from './slack-types.js';
export { DEFAULT_CHANNEL_ID } from './slack-state.js';

export const DEFAULT_TEAM_ID = 'T0000000001';
export const DEFAULT_BOT_TOKEN = 'xoxb-test-token';
/** The app-level token (Socket Mode) of the fake's app. */
export const DEFAULT_APP_TOKEN = 'xapp-1-A0000000001-0000000000001-fake';
const HOOK_METHOD = 'response_url';

function buildTeams(options: FakeTeamOptions[] | undefined): FakeTeam[] {
  const list = options && options.length > 0 ? options : [{ teamId: DEFAULT_TEAM_ID, botToken: DEFAULT_BOT_TOKEN }];
  return list.map((t, i) => {
    const n = String(i + 1).padStart(6, '0');
    return {
      teamId: t.teamId,
      botToken: t.botToken,
      enterpriseId: t.enterpriseId,
      name: t.name ?? `Workspace ${t.teamId}`,
      domain: t.domain ?? t.teamId.toLowerCase(),
      botUserId: t.botUserId ?? `U0BOT${n}`,
      botId: t.botId ?? `B0BOT${n}`,
    };
  });
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const baseClock = options.now ?? Date.now;
  let offset = 0;
  const now = (): number => baseClock() + offset;

  const teams = buildTeams(options.teams);
  const state = new SlackState(now, options.appId ?? 'A0000000001', teams);
  const limiter = createRateLimiter(now, options.rateLimits);
  const failures = new Map<string, InjectedFailure[]>();
  const rateLimited = new Map<string, number>();
  let down: InjectedFailure | null = null;
  let origin = '';
  const appId = options.appId ?? 'A0000000001';
  const socket = createFakeSocketMode({ appId, appToken: options.appToken ?? DEFAULT_APP_TOKEN, origin: () => origin, now, ...options.socketMode });

  const addChannel: FakeSlack['addChannel'] = (teamId, channelId, opts = {}) => {
    state.team(teamId);
    const channel = state.channels.get(channelId) ?? {
      id: channelId,
      name: opts.name ?? channelId.toLowerCase(),
      isPrivate: opts.isPrivate ?? false,
      teams: new Map<string, { member: boolean }>(),
    };
    if (opts.isPrivate !== undefined) channel.isPrivate = opts.isPrivate;
    if (opts.name !== undefined) channel.name = opts.name;
    channel.teams.set(teamId, { member: opts.member ?? true });
    state.channels.set(channelId, channel);
  };
  // The default channel is shared by every configured workspace (as a Slack Connect channel would be).
  for (const team of teams) addChannel(team.teamId, DEFAULT_CHANNEL_ID, { name: 'general' });

  const record = (call: Omit<FakeCall, 'at'>): void => {
    const { token: _token, ...args } = call.args;
    state.calls.push({ ...call, args, at: now() });
    if (call.status === 429) rateLimited.set(call.method, (rateLimited.get(call.method) ?? 0) + 1);
  };

  /** Answers an injected failure for `method`, if one is queued. */
  const injectFailure = (res: ServerResponse, method: string, args: SlackArgs, teamId?: string): boolean => {
    const queue = failures.get(method);
    const failure = queue?.shift();
    if (!failure) return false;
    const status = failure.status ?? 200;
    const error = failure.error ?? (status === 429 ? 'ratelimited' : 'internal_error');
    const headers: Record<string, string> = status === 429 ? { 'retry-after': String(Math.max(1, Math.ceil(failure.retryAfter ?? 1))) } : {};
    sendJson(res, status, { ok: false, error }, headers);
    record({ method, ...(teamId ? { teamId } : {}), ok: false, error, status, args });
    return true;
  };

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = decodeURIComponent(url.pathname.slice('/api/'.length));
    const decoded = decodeArgs(req.headers['content-type'], await readBody(req), url.searchParams);
    const args = decoded.ok ? decoded.args : {};
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const team = token === undefined ? undefined : state.byToken.get(token);
    const answer = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void => {
      sendJson(res, status, body, headers);
      const error = typeof body.error === 'string' ? body.error : undefined;
      record({ method, ...(team ? { teamId: team.teamId } : {}), ok: body.ok === true, ...(error ? { error } : {}), status, args });
    };

    if (down && method !== 'apps.connections.open') {
      const status = down.status ?? 503;
      const error = down.error ?? (status === 429 ? 'ratelimited' : 'service_unavailable');
      const headers: Record<string, string> = status === 429 ? { 'retry-after': String(Math.max(1, Math.ceil(down.retryAfter ?? 1))) } : {};
      sendJson(res, status, { ok: false, error }, headers);
      record({ method, ...(team ? { teamId: team.teamId } : {}), ok: false, error, status, args });
      return;
    }
    if (injectFailure(res, method, args, team?.teamId)) return;
    // Socket Mode's method takes the app-level token, not a workspace's bot token.
    if (method === 'apps.connections.open') return answer(200, socket.open(token));
    const handler = METHODS[method];
    if (!handler) return answer(200, { ok: false, error: 'unknown_method' });
    if (!decoded.ok) return answer(200, { ok: false, error: decoded.error });
    if (token === undefined) return answer(200, { ok: false, error: 'not_authed' });
    if (!team) return answer(200, { ok: false, error: 'invalid_auth' });
    const allowed = limiter.take(method, team.teamId, str(args, 'channel'));
    if (!allowed.ok) {
      return answer(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(allowed.retryAfterSec) });
    }
    answer(200, handler(state, team, args));
  }

  async function handleHook(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const raw = await readBody(req);
    let payload: unknown;
    try {
      payload = JSON.parse(raw);
    } catch {
      payload = undefined;
    }
    const args = typeof payload === 'object' && payload !== null ? (payload as SlackArgs) : {};
    if (injectFailure(res, HOOK_METHOD, args)) return;
    const result = answerHook(state, url.pathname.slice('/hooks/'.length), payload);
    sendJson(res, result.status, result.body);
    const { error } = result.body;
    record({
      method: HOOK_METHOD,
      ...(result.teamId ? { teamId: result.teamId } : {}),
      ok: result.body.ok,
      ...(error ? { error } : {}),
      status: result.status,
      args,
    });
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let handled: Promise<void>;
    if (url.pathname.startsWith('/api/')) handled = handleApi(req, res, url);
    else if (req.method === 'POST' && url.pathname.startsWith('/hooks/')) handled = handleHook(req, res, url);
    else handled = Promise.resolve(sendJson(res, 404, { ok: false, error: 'not_found' }));
    handled.catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: 'fake_slack_internal_error', detail: String(err) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.on('upgrade', (req, sock, head) => {
    if (!socket.upgrade(req, sock, head)) sock.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const copy = <T>(value: T): T => structuredClone(value);
  const findTeam = (teamId?: string): FakeTeam => (teamId === undefined ? teams[0]! : state.team(teamId));

  return {
    origin,
    url: `${origin}/api/`,
    socket,
    teams,
    team: findTeam,
    now,
    advance(ms) {
      if (!(ms >= 0)) throw new RangeError('the fake clock only moves forward');
      offset += ms;
    },

    addChannel,
    addUser(teamId, userId, opts) {
      state.team(teamId);
      state.users.set(`${teamId}|${userId}`, {
        id: userId,
        teamId,
        name: opts.name,
        realName: opts.realName ?? opts.name,
        displayName: opts.displayName ?? opts.name,
        locale: opts.locale ?? 'en-US',
        tz: opts.tz ?? 'UTC',
      });
    },
    ensureUser(teamId, userId) {
      state.team(teamId);
      const key = `${teamId}|${userId}`;
      if (!state.users.has(key)) {
        const name = userId.toLowerCase();
        state.users.set(key, { id: userId, teamId, name, realName: name, displayName: name, locale: undefined, tz: 'UTC' });
      }
    },
    deactivateUser(teamId, userId) {
      const user = state.users.get(`${teamId}|${userId}`);
      if (!user) throw new Error(`no user ${userId} in ${teamId}`);
      user.deleted = true;
    },
    addUserGroup(teamId, groupId, userIds) {
      state.team(teamId);
      state.userGroups.set(`${teamId}|${groupId}`, [...userIds]);
    },
    issueTriggerId(opts = {}) {
      const team = findTeam(opts.teamId);
      const digits = (n: number): string => String(randomBytes(8).readBigUInt64BE() % 10n ** BigInt(n)).padStart(n, '0');
      const id = `${digits(11)}.${digits(9)}.${randomBytes(16).toString('hex')}`;
      state.triggers.set(id, { teamId: team.teamId, userId: opts.userId ?? DEFAULT_USER_ID, issuedAt: now(), used: false });
      return id;
    },
    newResponseUrl(opts = {}) {
      const team = findTeam(opts.teamId);
      const id = `${team.teamId}/${randomBytes(6).readUIntBE(0, 6)}/${randomBytes(12).toString('hex')}`;
      const url = `${origin}/hooks/${id}`;
      state.hooks.set(id, {
        id,
        url,
        teamId: team.teamId,
        channel: opts.channel ?? DEFAULT_CHANNEL_ID,
        userId: opts.userId ?? DEFAULT_USER_ID,
        messageTs: opts.messageTs,
        createdAt: now(),
        uses: 0,
        lastEphemeral: undefined,
      });
      return url;
    },

    setRateLimit: (method, limit) => limiter.set(method, limit),
    outage(failure) {
      down = failure ? { ...failure } : null;
    },
    failNext(method, failure, times = 1) {
      const queue = failures.get(method) ?? [];
      for (let i = 0; i < times; i++) queue.push({ ...failure });
      failures.set(method, queue);
    },

    messages: (channel) => copy([...state.messages.values()].filter((m) => channel === undefined || m.channel === channel)),
    replies: (channel, threadTs) => copy(state.threadReplies(channel, threadTs)),
    message: (channel, ts) => copy(state.findMessage(channel, ts)),
    ephemerals: () => copy(state.ephemerals),
    responses: () => copy(state.responses),
    views: () => copy([...state.views.values()]),
    calls: () => copy(state.calls),
    rateLimitedCount: (method) => (method === undefined ? [...rateLimited.values()].reduce((a, b) => a + b, 0) : (rateLimited.get(method) ?? 0)),

    async waitFor(predicate, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await predicate();
        if (value) return value as NonNullable<typeof value>;
        if (Date.now() > deadline) throw new Error(`fake Slack: condition not met within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    reset() {
      state.clearProduced();
      limiter.resetBuckets();
      failures.clear();
      rateLimited.clear();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        socket.close();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
