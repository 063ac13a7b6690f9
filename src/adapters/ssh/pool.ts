import { Semaphore } from "../../core/concurrency.js";
import { TestumError } from "../../core/errors.js";
import type { Host } from "../../core/hosts/hosts.js";
import { msg } from "../../core/chat/i18n.js";
import { trackPool } from "../metrics/process.js";
import type { HostConnector } from "./connect-host.js";
import type { SshConnection } from "./ssh.js";

/**
 * Most SSH handshakes a worker has in progress at once; the rest of a job's
 * hosts wait for their turn (commands on open connections never wait). A
 * handshake costs the host far more CPU than the client: hundreds at once
 * on busy hosts, or on hosts sharing a machine, all slow down together until
 * every one passes its time limit, where a bounded number finish steadily.
 */
export const MAX_CONNECTING = 64;

/**
 * Commands a connection in use carries at once for other tasks on the same
 * host, before the pool opens another connection to it: each is an SSH
 * session of its own (OpenSSH allows 10 per connection by default,
 * MaxSessions), and costs the host a fraction of a new connection's
 * handshake. A burst of jobs on one host opens a few connections, not one
 * per job.
 */
export const SHARED_SESSIONS = 3;

/** A connection handed out (or being opened for a task), and how many tasks use it. */
interface InUse {
  readonly conn: Promise<SshConnection>;
  settled?: SshConnection;
  users: number;
  /** The task that opened it: should it be stopped before connecting, the others sharing it try on their own. */
  readonly openedFor?: AbortSignal | undefined;
}

/**
 * Open SSH connections kept between jobs, one idle list per host. A
 * connection is reused only while it is open and the host's address,
 * credential, pinned key and bastion are what they were when it was made;
 * every new connection checks the host key. Idle connections close after
 * `idleMs`. Hosts behind one bastion share one connection to it (see
 * connect-host.ts), open while any connection through it is.
 *
 * A new connection runs its first command as a plain exec, the quickest
 * way for one command; its shell session (see shell-session.ts), which
 * makes every later command cheaper, is started by prepareShells once the
 * job that made it has ended, so it delays neither a result nor that end.
 *
 * When no connection to the host is idle, a task shares one that is in use
 * or being opened (up to SHARED_SESSIONS besides its owner) and runs its
 * command as an exec in a session of its own; only then is another
 * connection made.
 */
export class ConnectionPool {
  private readonly idle = new Map<string, Array<{ conn: SshConnection; timer: NodeJS.Timeout }>>();
  /** Returned connections whose shell session was never asked for. */
  private readonly unprepared = new Set<SshConnection>();
  /** Connections handed out, or being opened, by key, with how many tasks use each. */
  private readonly inUse = new Map<string, InUse[]>();
  /** Hosts whose sshd refused a shared command its session. */
  private readonly unshared = new Set<string>();
  private closed = false;
  private readonly tracked = trackPool(this);

  /** Handshakes in progress at once (see MAX_CONNECTING). */
  private readonly connecting: Semaphore;

  constructor(
    private readonly connector: HostConnector,
    private readonly idleMs = 60_000,
    maxConnecting = MAX_CONNECTING,
  ) {
    this.connecting = new Semaphore(maxConnecting);
  }

  /** Idle connections held now (for metrics). */
  idleCount(): number {
    let count = 0;
    for (const list of this.idle.values()) count += list.length;
    return count;
  }

  private keyOf(host: Host): string {
    return [host.id, host.address, host.port, host.username, host.authMethod, host.secretId, host.hostKeyFingerprint, host.viaHostId].join("|");
  }

  /**
   * An open connection to the host: an idle one (warm), else a share of one
   * in use (`shared`: release it with `shared` too), else a new one.
   */
  async acquire(
    host: Host,
    channel?: string,
    options: { fresh?: boolean; signal?: AbortSignal | undefined } = {},
  ): Promise<{ conn: SshConnection; warm: boolean; shared: boolean }> {
    const key = this.keyOf(host);
    const list = options.fresh ? undefined : this.idle.get(key);
    while (list && list.length > 0) {
      const { conn, timer } = list.pop()!;
      clearTimeout(timer);
      if (conn.isOpen) return { conn: this.use(key, conn), warm: true, shared: false };
    }
    const using = this.inUse.get(key) ?? [];
    const share = options.fresh || this.unshared.has(key) ? undefined : using.find((u) => u.users <= SHARED_SESSIONS && (u.settled === undefined || u.settled.isOpen));
    if (share) {
      share.users += 1;
      try {
        return { conn: await share.conn, warm: false, shared: true };
      } catch (err) {
        share.users -= 1;
        if (share.openedFor?.aborted && !options.signal?.aborted) return this.acquire(host, channel, options);
        throw err;
      }
    }
    const entry: InUse = { conn: this.connect(host, channel, options.signal), users: 1, openedFor: options.signal };
    using.push(entry);
    this.inUse.set(key, using);
    try {
      entry.settled = await entry.conn;
      return { conn: entry.settled, warm: false, shared: false };
    } catch (err) {
      this.forget(key, entry);
      throw err;
    }
  }

  private async connect(host: Host, channel: string | undefined, signal: AbortSignal | undefined): Promise<SshConnection> {
    const release = await this.connecting.acquire();
    try {
      // Stopped (cancel, time limit) while waiting for its turn: it never connects.
      if (signal?.aborted) throw new TestumError("conflict", msg("task.stopped_before_start"));
      return await this.connector.connect(host, { channel });
    } finally {
      release();
    }
  }

  /** Marks an idle connection as handed out again. */
  private use(key: string, conn: SshConnection): SshConnection {
    const using = this.inUse.get(key) ?? [];
    const entry = using.find((u) => u.settled === conn);
    if (entry) entry.users += 1;
    else using.push({ conn: Promise.resolve(conn), settled: conn, users: 1 });
    this.inUse.set(key, using);
    return conn;
  }

  private forget(key: string, entry: InUse): void {
    const using = this.inUse.get(key);
    if (!using) return;
    const at = using.indexOf(entry);
    if (at !== -1) using.splice(at, 1);
    if (using.length === 0) this.inUse.delete(key);
  }

  /** Tasks using `conn` now. */
  private usersOf(conn: SshConnection): number {
    let users = 0;
    for (const using of this.inUse.values()) for (const u of using) if (u.settled === conn) users += u.users;
    return users;
  }

  /**
   * The host refused a shared command a session of its own (its sshd allows
   * fewer sessions per connection, MaxSessions): the share is given back and
   * that host's tasks get connections of their own from now on.
   */
  refusedShare(host: Host, conn: SshConnection): void {
    this.unshared.add(this.keyOf(host));
    this.unuse(host, conn);
  }

  /** Gives up a connection found dead: closed once no other task uses it, never handed out again. */
  drop(host: Host, conn: SshConnection): void {
    this.unuse(host, conn);
    if (this.usersOf(conn) === 0) conn.end();
  }

  private unuse(host: Host, conn: SshConnection): void {
    const key = this.keyOf(host);
    const lease = this.inUse.get(key)?.find((u) => u.settled === conn);
    if (!lease) return;
    lease.users -= 1;
    if (lease.users <= 0) this.forget(key, lease);
  }

  /** Returns a connection after use (`shared` as acquire said); a broken one is dropped once no task uses it. */
  release(host: Host, conn: SshConnection, shared = false): void {
    this.unuse(host, conn);
    if (this.closed || !conn.isOpen) {
      if (this.usersOf(conn) === 0) conn.end();
      return;
    }
    // A share goes back to its owner, who returns the connection to the idle list.
    if (shared) return;
    // A key first seen on this connection has been pinned since: the next job finds the host with it.
    const key = this.keyOf(host.hostKeyFingerprint === null ? { ...host, hostKeyFingerprint: conn.fingerprint } : host);
    const list = this.idle.get(key) ?? [];
    const expire = () => {
      // Still carrying a shared command: closing now would cut it off.
      if (this.usersOf(conn) > 0) {
        entry.timer = setTimeout(expire, this.idleMs);
        entry.timer.unref();
        return;
      }
      const at = list.indexOf(entry);
      if (at !== -1) list.splice(at, 1);
      this.unprepared.delete(conn);
      conn.end();
    };
    const entry = { conn, timer: setTimeout(expire, this.idleMs) };
    if (!conn.shellAsked) this.unprepared.add(conn);
    entry.timer.unref();
    list.push(entry);
    this.idle.set(key, list);
  }

  /** Starts the shell sessions of the connections returned without one (in the background). */
  prepareShells(): void {
    for (const conn of this.unprepared) if (conn.isOpen) conn.prepareShell();
    this.unprepared.clear();
  }

  closeAll(): void {
    this.closed = true;
    this.unprepared.clear();
    this.tracked.untrack();
    for (const list of this.idle.values()) {
      for (const { conn, timer } of list) {
        clearTimeout(timer);
        conn.end();
      }
    }
    this.idle.clear();
    this.connector.closeHops();
  }
}
