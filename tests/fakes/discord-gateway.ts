/**
 * The Discord Gateway of the fake (topics/gateway.mdx, topics/opcodes-and-status-codes.mdx,
 * topics/gateway-events.mdx), one shard:
 *
 * - Connect with `?v=10&encoding=json`; anything else closes with 4012 / 4002.
 * - HELLO (op 10) with the heartbeat interval; the client heartbeats (op 1, the last
 *   sequence) and gets HEARTBEAT_ACK (op 11); a connection silent for two intervals is
 *   closed with 4009. The server may ask for a heartbeat at once (op 1).
 * - IDENTIFY (op 2): token (4004), intents (4013 unknown bits, 4014 privileged ones the app
 *   was not granted), shard (4010); a second IDENTIFY is 4005, anything before it 4003.
 *   READY carries `session_id` and `resume_gateway_url`; with the GUILDS intent each guild
 *   follows as GUILD_CREATE. Each IDENTIFY takes one of `session_start_limit.remaining`.
 * - Dispatches (op 0) carry a sequence number per session. While the session has no
 *   connection they are kept; RESUME (op 6 with token, session id and last sequence) on a new
 *   connection replays those after that sequence, then RESUMED. An unknown or ended session
 *   gets INVALID_SESSION (op 9, false); a sequence ahead of the session's is 4007.
 * - A client that closes with 1000 or 1001 ends its session; any other close keeps it
 *   resumable. RECONNECT (op 7) and INVALID_SESSION (op 9) are sent on request.
 * - Several sessions of the same shard (two processes of one bot) each get every dispatch.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatewayIntentBits } from 'discord-api-types/v10';
import { type WebSocket, WebSocketServer } from 'ws';

/** opcodes-and-status-codes.mdx "Gateway Close Event Codes". */
export const GatewayClose = {
  unknownOpcode: 4001,
  decodeError: 4002,
  notAuthenticated: 4003,
  authenticationFailed: 4004,
  alreadyAuthenticated: 4005,
  invalidSeq: 4007,
  rateLimited: 4008,
  sessionTimedOut: 4009,
  invalidShard: 4010,
  invalidApiVersion: 4012,
  invalidIntents: 4013,
  disallowedIntents: 4014,
} as const;

/** gateway.mdx "Privileged Intents". */
const PRIVILEGED = GatewayIntentBits.GuildMembers | GatewayIntentBits.GuildPresences | GatewayIntentBits.MessageContent;
const KNOWN_INTENTS = Object.values(GatewayIntentBits)
  .filter((v): v is number => typeof v === 'number')
  .reduce((a, b) => a | b, 0);
/** gateway.mdx "Rate Limiting": 120 events per 60 seconds per connection. */
const SEND_LIMIT = 120;
const SEND_WINDOW_MS = 60_000;

export interface GatewaySessionInfo {
  readonly id: string;
  readonly seq: number;
  readonly intents: number;
  readonly connected: boolean;
  readonly ended: boolean;
  readonly resumes: number;
}

export interface GatewayCounts {
  identifies: number;
  resumes: number;
  heartbeats: number;
  connections: number;
  /** Close codes the clients sent, in order. */
  clientCloses: number[];
  /** Close codes the server sent, in order. */
  serverCloses: number[];
}

export interface FakeGateway {
  /** What GET /gateway/bot answers as `url`. */
  readonly url: string;
  sessions(): GatewaySessionInfo[];
  /** Waits for a session that is connected and past READY (or RESUMED); resolves with it. */
  waitForSession(options?: { timeoutMs?: number; notId?: string }): Promise<GatewaySessionInfo>;
  /**
   * Dispatches an event to every session (kept for RESUME while one has no connection);
   * returns the newest session's sequence number for it.
   */
  dispatch(event: string, data: unknown): number;
  /** Sends RECONNECT (op 7) on the newest session's connection, or on the given session's. */
  reconnect(sessionId?: string): void;
  /** Sends INVALID_SESSION (op 9); a session that may not resume is ended. */
  invalidate(resumable: boolean, sessionId?: string): void;
  /** Cuts a connection without a close frame, as a network failure does. */
  drop(sessionId?: string): void;
  /** Asks the client for a heartbeat now (op 1). */
  requestHeartbeat(sessionId?: string): void;
  counts(): GatewayCounts;
  sessionStartLimit(): { total: number; remaining: number; reset_after: number; max_concurrency: number };
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): void;
}

export interface GatewayOptions {
  botToken: string;
  applicationId: string;
  botUser: { id: string; username: string };
  /** The guilds the bot is in. */
  guilds(): Array<{ id: string; name: string }>;
  origin(): string;
  newSessionId(): string;
  /** Default 41,250 ms as Discord's; tests shorten it. */
  heartbeatIntervalMs?: number;
  /** Privileged intents the app was granted in the Developer Portal. Default none. */
  privilegedIntents?: number;
}

interface Session {
  id: string;
  intents: number;
  seq: number;
  /** Dispatches sent, for replay on RESUME. */
  sent: Array<{ s: number; t: string; d: unknown }>;
  socket: Conn | null;
  ended: boolean;
  resumes: number;
}

interface Conn {
  ws: WebSocket;
  session: Session | null;
  /** Past READY or RESUMED: dispatches flow. */
  live: boolean;
  lastHeartbeat: number;
  watchdog?: NodeJS.Timeout;
  received: number[];
}

export function createFakeGateway(options: GatewayOptions): FakeGateway {
  const wss = new WebSocketServer({ noServer: true });
  const interval = options.heartbeatIntervalMs ?? 41_250;
  const sessions: Session[] = [];
  const conns = new Set<Conn>();
  const counts: GatewayCounts = { identifies: 0, resumes: 0, heartbeats: 0, connections: 0, clientCloses: [], serverCloses: [] };
  const limit = { total: 1000, remaining: 1000, reset_after: 86_400_000, max_concurrency: 1 };

  const wsOrigin = () => options.origin().replace(/^http/, 'ws');
  const send = (c: Conn, payload: { op: number; d: unknown; s?: number | null; t?: string | null }) => {
    if (c.ws.readyState === c.ws.OPEN) c.ws.send(JSON.stringify({ s: null, t: null, ...payload }));
  };
  const shut = (c: Conn, code: number) => {
    counts.serverCloses.push(code);
    c.ws.close(code);
  };
  const active = () => sessions.filter((s) => !s.ended);
  const newest = () => active().at(-1);

  function push(session: Session, t: string, d: unknown): number {
    session.seq += 1;
    const event = { s: session.seq, t, d };
    session.sent.push(event);
    if (session.socket?.live) send(session.socket, { op: 0, ...event });
    return session.seq;
  }

  function identify(c: Conn, d: Record<string, unknown>): void {
    if (c.session) return shut(c, GatewayClose.alreadyAuthenticated);
    if (d.token !== options.botToken) return shut(c, GatewayClose.authenticationFailed);
    const intents = d.intents;
    if (typeof intents !== 'number' || !Number.isInteger(intents) || intents < 0 || (intents & ~KNOWN_INTENTS) !== 0) return shut(c, GatewayClose.invalidIntents);
    if ((intents & PRIVILEGED & ~(options.privilegedIntents ?? 0)) !== 0) return shut(c, GatewayClose.disallowedIntents);
    const shard = d.shard;
    if (shard !== undefined && !(Array.isArray(shard) && shard[0] === 0 && shard[1] === 1)) return shut(c, GatewayClose.invalidShard);
    counts.identifies += 1;
    limit.remaining = Math.max(0, limit.remaining - 1);
    const session: Session = { id: options.newSessionId(), intents, seq: 0, sent: [], socket: c, ended: false, resumes: 0 };
    // Sessions of the same shard live side by side, and each gets every event (two copies of a
    // bot running at once both see each interaction; the first callback wins).
    sessions.push(session);
    c.session = session;
    c.live = true;
    const guilds = options.guilds();
    push(session, 'READY', {
      v: 10,
      user: { id: options.botUser.id, username: options.botUser.username, discriminator: '0', global_name: null, avatar: null, bot: true, verified: true, flags: 0 },
      guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
      session_id: session.id,
      session_type: 'normal',
      resume_gateway_url: `${wsOrigin()}/resume-gateway`,
      shard: [0, 1],
      application: { id: options.applicationId, flags: 0 },
    });
    if ((intents & GatewayIntentBits.Guilds) !== 0) {
      for (const g of guilds) push(session, 'GUILD_CREATE', { id: g.id, name: g.name, unavailable: false, roles: [], channels: [], threads: [], members: [], member_count: 1 });
    }
  }

  function resume(c: Conn, d: Record<string, unknown>): void {
    if (c.session) return shut(c, GatewayClose.alreadyAuthenticated);
    if (d.token !== options.botToken) return shut(c, GatewayClose.authenticationFailed);
    counts.resumes += 1;
    const session = sessions.find((s) => s.id === d.session_id);
    if (!session || session.ended) return send(c, { op: 9, d: false });
    const from = typeof d.seq === 'number' ? d.seq : 0;
    if (from > session.seq) return shut(c, GatewayClose.invalidSeq);
    if (session.socket && session.socket !== c) session.socket.ws.terminate();
    session.socket = c;
    session.resumes += 1;
    c.session = session;
    for (const event of session.sent) if (event.s > from) send(c, { op: 0, ...event });
    c.live = true;
    push(session, 'RESUMED', {});
  }

  function onMessage(c: Conn, raw: string): void {
    const now = Date.now();
    c.received = c.received.filter((t) => now - t < SEND_WINDOW_MS);
    c.received.push(now);
    if (c.received.length > SEND_LIMIT) return shut(c, GatewayClose.rateLimited);
    let payload: { op?: unknown; d?: unknown };
    try {
      payload = JSON.parse(raw) as typeof payload;
    } catch {
      return shut(c, GatewayClose.decodeError);
    }
    const d = (typeof payload.d === 'object' && payload.d !== null ? payload.d : {}) as Record<string, unknown>;
    switch (payload.op) {
      case 1:
        counts.heartbeats += 1;
        c.lastHeartbeat = Date.now();
        return send(c, { op: 11, d: null });
      case 2:
        return identify(c, d);
      case 6:
        return resume(c, d);
      case 3:
      case 4:
      case 8:
        // Presence, voice state and member requests: accepted, not modelled.
        if (!c.session) return shut(c, GatewayClose.notAuthenticated);
        return;
      default:
        return shut(c, c.session ? GatewayClose.unknownOpcode : GatewayClose.notAuthenticated);
    }
  }

  function accept(ws: WebSocket): void {
    counts.connections += 1;
    const c: Conn = { ws, session: null, live: false, lastHeartbeat: Date.now(), received: [] };
    c.watchdog = setInterval(
      () => {
        if (Date.now() - c.lastHeartbeat > 2 * interval) shut(c, GatewayClose.sessionTimedOut);
      },
      Math.max(100, interval / 4),
    );
    conns.add(c);
    ws.on('message', (data) => onMessage(c, data.toString()));
    ws.on('close', (code) => {
      clearInterval(c.watchdog);
      conns.delete(c);
      counts.clientCloses.push(code);
      const session = c.session;
      if (!session || session.socket !== c) return;
      session.socket = null;
      // gateway.mdx: closing with 1000 or 1001 invalidates the session.
      if (code === 1000 || code === 1001) session.ended = true;
    });
    send(c, { op: 10, d: { heartbeat_interval: interval } });
  }

  const current = (sessionId?: string): Conn => {
    const c = (sessionId === undefined ? newest() : sessions.find((x) => x.id === sessionId))?.socket;
    if (!c) throw new Error('fake Discord: no Gateway connection');
    return c;
  };

  return {
    get url() {
      return `${wsOrigin()}/gateway`;
    },
    sessions: () => sessions.map((s) => ({ id: s.id, seq: s.seq, intents: s.intents, connected: s.socket?.live === true, ended: s.ended, resumes: s.resumes })),
    async waitForSession(opts = {}) {
      const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
      for (;;) {
        const s = newest();
        if (s?.socket?.live && s.id !== opts.notId) return { id: s.id, seq: s.seq, intents: s.intents, connected: true, ended: false, resumes: s.resumes };
        if (Date.now() > deadline) throw new Error('fake Discord: no Gateway session became ready in time');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    dispatch(event, data) {
      const targets = active();
      if (targets.length === 0) throw new Error('fake Discord: no Gateway session to dispatch to');
      let seq = 0;
      for (const session of targets) seq = push(session, event, data);
      return seq;
    },
    reconnect: (sessionId) => send(current(sessionId), { op: 7, d: null }),
    invalidate(resumable, sessionId) {
      const c = current(sessionId);
      if (!resumable && c.session) c.session.ended = true;
      send(c, { op: 9, d: resumable });
    },
    drop: (sessionId) => current(sessionId).ws.terminate(),
    requestHeartbeat: (sessionId) => send(current(sessionId), { op: 1, d: null }),
    counts: () => structuredClone(counts),
    sessionStartLimit: () => ({ ...limit }),
    upgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== '/gateway' && url.pathname !== '/resume-gateway') return false;
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (url.searchParams.get('v') !== '10') {
          counts.serverCloses.push(GatewayClose.invalidApiVersion);
          ws.close(GatewayClose.invalidApiVersion);
          return;
        }
        // Only JSON is modelled; etf and transport compression are not.
        if ((url.searchParams.get('encoding') ?? 'json') !== 'json' || url.searchParams.has('compress')) {
          counts.serverCloses.push(GatewayClose.decodeError);
          ws.close(GatewayClose.decodeError);
          return;
        }
        accept(ws);
      });
      return true;
    },
    close() {
      for (const c of conns) {
        clearInterval(c.watchdog);
        c.ws.terminate();
      }
      conns.clear();
      wss.close();
    },
  };
}
