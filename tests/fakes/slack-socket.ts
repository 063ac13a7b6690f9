/**
 * Slack's Socket Mode side of the fake (api.slack.com/apis/socket-mode,
 * api.slack.com/apis/connections/socket-implement):
 *
 * - `apps.connections.open` with the app-level token (`xapp-…`) answers a
 *   one-time WebSocket URL; a bot token gets `not_allowed_token_type`.
 * - On connect Slack sends `hello` (with `num_connections`); then envelopes
 *   `{envelope_id, type, payload, accepts_response_payload, retry_attempt,
 *   retry_reason}` that the app acknowledges with `{envelope_id, payload?}`
 *   within 3 seconds. Slash commands and interactivity take the ack's payload
 *   as their answer, as over HTTP.
 * - An app may hold up to 10 connections; each envelope goes to one of them.
 *   With none open a slash command fails for the user (`dispatch_failed`).
 * - `disconnect` messages (`warning`, `refresh_requested`, `link_disabled`,
 *   `too_many_websockets`) ask the app to go; Slack closes the socket itself
 *   a little later if the app does not. A connection told to go gets no new
 *   envelopes.
 * - The server pings; the client answers pongs (and pings too).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';

/** socket-implement: "Your app must acknowledge the envelope within 3 seconds." */
export const ACK_DEADLINE_MS = 3_000;
/** socket-mode: an app can have up to 10 open WebSocket connections at once. */
export const MAX_CONNECTIONS = 10;

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';
export type DisconnectReason = 'warning' | 'refresh_requested' | 'link_disabled' | 'too_many_websockets';

export interface SocketConnectionInfo {
  readonly id: number;
  readonly openedAt: number;
  /** Set once a `disconnect` message was sent to it. */
  readonly toldToGo: DisconnectReason | undefined;
  readonly open: boolean;
  /** Envelopes this connection was given. */
  readonly delivered: number;
}

export interface EnvelopeRecord {
  readonly envelopeId: string;
  readonly type: EnvelopeType;
  readonly payload: Record<string, unknown>;
  readonly connection: number;
  readonly retryAttempt: number;
  readonly sentAt: number;
  /** When the ack arrived; a late ack (past 3 s) is recorded and ignored. */
  ackedAt?: number;
  ack?: Record<string, unknown> | undefined;
  late?: boolean;
}

export type SocketDelivery =
  | { readonly ok: true; readonly envelopeId: string; readonly connection: number; readonly ack: Record<string, unknown> | undefined; readonly ms: number }
  | { readonly ok: false; readonly envelopeId: string; readonly error: 'dispatch_failed' | 'ack_timeout' | 'connection_closed' };

export interface SendOptions {
  /** Which connection carries it; default: the next open one that was not told to go (round robin). */
  readonly connection?: number;
  /** Reuse an envelope id (a retry Slack makes); `retryAttempt` then defaults to 1. */
  readonly envelopeId?: string;
  readonly retryAttempt?: number;
  readonly retryReason?: string;
}

export interface FakeSocketMode {
  /** The app-level token `apps.connections.open` accepts. */
  readonly appToken: string;
  /** Connections, oldest first (closed ones included). */
  connections(): SocketConnectionInfo[];
  /** Open connections that were not told to go. */
  ready(): number;
  /** Waits until at least `n` connections are open and not told to go. */
  waitForReady(n?: number, timeoutMs?: number): Promise<void>;
  /** Sends an envelope and waits for its ack (up to 3 s, as Slack does). */
  send(type: EnvelopeType, payload: Record<string, unknown>, options?: SendOptions): Promise<SocketDelivery>;
  /** Sends a `disconnect` message to one connection (default: the oldest open one). */
  disconnect(reason: DisconnectReason, connection?: number): number;
  /** Cuts a connection without a close handshake, as a network failure does. */
  drop(connection?: number): number;
  envelopes(): EnvelopeRecord[];
  /** `apps.connections.open` calls answered with a URL. */
  opened(): number;
  /** Answers `apps.connections.open` (called by the Web API fake). */
  open(token: string | undefined): Record<string, unknown>;
  /** Takes an HTTP upgrade for a `/link/` URL; false when the path is not Slack's. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): void;
}

interface Connection {
  id: number;
  ws: WebSocket;
  openedAt: number;
  toldToGo: DisconnectReason | undefined;
  open: boolean;
  delivered: number;
  timers: NodeJS.Timeout[];
}

interface Pending {
  record: EnvelopeRecord;
  connection: Connection;
  resolve(delivery: SocketDelivery): void;
  timer: NodeJS.Timeout;
}

export interface SocketModeOptions {
  appId: string;
  appToken: string;
  /** Where URLs point: `ws://127.0.0.1:<port>`. */
  origin(): string;
  now(): number;
  /** How often the server pings each connection. Default 10 s. */
  pingIntervalMs?: number;
  /** How long after a `disconnect` message Slack closes the socket itself. Default 10 s. */
  closeAfterDisconnectMs?: number;
}

export function createFakeSocketMode(options: SocketModeOptions): FakeSocketMode {
  const wss = new WebSocketServer({ noServer: true });
  const tickets = new Map<string, number>();
  const all: Connection[] = [];
  const pending = new Map<string, Pending>();
  const records: EnvelopeRecord[] = [];
  let nextId = 1;
  let rotation = 0;
  let urls = 0;

  const usable = () => all.filter((c) => c.open && c.toldToGo === undefined);
  const send = (c: Connection, message: object) => c.ws.send(JSON.stringify(message));

  function pick(which?: number): Connection | undefined {
    if (which !== undefined) return all.find((c) => c.id === which && c.open);
    const candidates = usable();
    if (candidates.length === 0) return undefined;
    rotation = (rotation + 1) % candidates.length;
    return candidates[rotation];
  }

  function settle(envelopeId: string, delivery: SocketDelivery): void {
    const p = pending.get(envelopeId);
    if (!p) return;
    pending.delete(envelopeId);
    clearTimeout(p.timer);
    p.resolve(delivery);
  }

  function onMessage(c: Connection, raw: string): void {
    let message: { envelope_id?: unknown; payload?: unknown };
    try {
      message = JSON.parse(raw) as typeof message;
    } catch {
      return;
    }
    if (typeof message.envelope_id !== 'string') return;
    const p = pending.get(message.envelope_id);
    const record = p?.record ?? records.find((r) => r.envelopeId === message.envelope_id && r.ackedAt === undefined);
    if (!record) return;
    record.ackedAt = options.now();
    record.ack = typeof message.payload === 'object' && message.payload !== null ? (message.payload as Record<string, unknown>) : undefined;
    if (!p || p.connection !== c) {
      record.late = true;
      return;
    }
    settle(record.envelopeId, { ok: true, envelopeId: record.envelopeId, connection: c.id, ack: record.ack, ms: record.ackedAt - record.sentAt });
  }

  function onClose(c: Connection): void {
    c.open = false;
    for (const t of c.timers) clearTimeout(t);
    for (const [id, p] of pending) if (p.connection === c) settle(id, { ok: false, envelopeId: id, error: 'connection_closed' });
  }

  function accept(ws: WebSocket): void {
    const c: Connection = { id: nextId++, ws, openedAt: options.now(), toldToGo: undefined, open: true, delivered: 0, timers: [] };
    all.push(c);
    ws.on('message', (data) => onMessage(c, data.toString()));
    ws.on('close', () => onClose(c));
    ws.on('error', () => onClose(c));
    if (all.filter((x) => x.open).length > MAX_CONNECTIONS) {
      disconnectOne(c, 'too_many_websockets');
      return;
    }
    send(c, {
      type: 'hello',
      num_connections: all.filter((x) => x.open).length,
      debug_info: { host: `applink-fake-${c.id}`, build_number: 1, approximate_connection_time: 18060 },
      connection_info: { app_id: options.appId },
    });
    const ping = setInterval(() => c.open && ws.ping(), options.pingIntervalMs ?? 10_000);
    c.timers.push(ping);
  }

  function disconnectOne(c: Connection, reason: DisconnectReason): void {
    c.toldToGo = reason;
    send(c, { type: 'disconnect', reason, debug_info: { host: `applink-fake-${c.id}` } });
    c.timers.push(setTimeout(() => c.open && c.ws.close(1000), options.closeAfterDisconnectMs ?? 10_000));
  }

  const target = (which: number | undefined): Connection => {
    const c = which === undefined ? all.find((x) => x.open) : all.find((x) => x.id === which && x.open);
    if (!c) throw new Error(`fake Slack: no open Socket Mode connection${which === undefined ? '' : ` #${which}`}`);
    return c;
  };

  return {
    appToken: options.appToken,
    connections: () => all.map((c) => ({ id: c.id, openedAt: c.openedAt, toldToGo: c.toldToGo, open: c.open, delivered: c.delivered })),
    ready: () => usable().length,
    async waitForReady(n = 1, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (usable().length < n) {
        if (Date.now() > deadline) throw new Error(`fake Slack: ${n} Socket Mode connection(s) not ready within ${timeoutMs} ms (${usable().length} are)`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    send(type, payload, opts = {}) {
      const envelopeId = opts.envelopeId ?? randomUUID();
      const c = pick(opts.connection);
      if (!c) return Promise.resolve({ ok: false, envelopeId, error: 'dispatch_failed' });
      const retryAttempt = opts.retryAttempt ?? (opts.envelopeId ? 1 : 0);
      const record: EnvelopeRecord = { envelopeId, type, payload: structuredClone(payload), connection: c.id, retryAttempt, sentAt: options.now() };
      records.push(record);
      c.delivered += 1;
      return new Promise<SocketDelivery>((resolve) => {
        const timer = setTimeout(() => settle(envelopeId, { ok: false, envelopeId, error: 'ack_timeout' }), ACK_DEADLINE_MS);
        pending.set(envelopeId, { record, connection: c, resolve, timer });
        send(c, {
          envelope_id: envelopeId,
          type,
          payload,
          // Slash commands and interactivity may answer in the ack; the Events API may not.
          accepts_response_payload: type !== 'events_api',
          retry_attempt: retryAttempt,
          retry_reason: opts.retryReason ?? (retryAttempt > 0 ? 'timeout' : ''),
        });
      });
    },
    disconnect(reason, which) {
      const c = target(which);
      disconnectOne(c, reason);
      return c.id;
    },
    drop(which) {
      const c = target(which);
      c.ws.terminate();
      return c.id;
    },
    envelopes: () => structuredClone(records),
    opened: () => urls,
    open(token) {
      if (token === undefined) return { ok: false, error: 'not_authed' };
      if (!token.startsWith('xapp-')) return { ok: false, error: 'not_allowed_token_type' };
      if (token !== options.appToken) return { ok: false, error: 'invalid_auth' };
      const ticket = randomUUID();
      tickets.set(ticket, options.now());
      urls += 1;
      return { ok: true, url: `${options.origin().replace(/^http/, 'ws')}/link/?ticket=${ticket}&app_id=${options.appId}` };
    },
    upgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== '/link/') return false;
      const ticket = url.searchParams.get('ticket') ?? '';
      // A URL from apps.connections.open is good for one connection.
      if (!tickets.delete(ticket)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\n\r\n');
        return true;
      }
      wss.handleUpgrade(req, socket, head, accept);
      return true;
    },
    close() {
      for (const c of all) {
        for (const t of c.timers) clearTimeout(t);
        if (c.open) c.ws.terminate();
      }
      for (const [id] of pending) settle(id, { ok: false, envelopeId: id, error: 'connection_closed' });
      wss.close();
    },
  };
}
