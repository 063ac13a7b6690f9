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
 * job that made it no longer waits for anything, so it delays no result.
 */
export class ConnectionPool {
  private readonly idle = new Map<string, Array<{ conn: SshConnection; timer: NodeJS.Timeout }>>();
  /** Returned connections whose shell session was never asked for. */
  private readonly unprepared = new Set<SshConnection>();
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

  /** An open connection to the host: a warm one if there is one, else a new one. */
  async acquire(host: Host, channel?: string, options: { fresh?: boolean; signal?: AbortSignal | undefined } = {}): Promise<{ conn: SshConnection; warm: boolean }> {
    const list = options.fresh ? undefined : this.idle.get(this.keyOf(host));
    while (list && list.length > 0) {
      const { conn, timer } = list.pop()!;
      clearTimeout(timer);
      if (conn.isOpen) return { conn, warm: true };
    }
    const release = await this.connecting.acquire();
    try {
      // Stopped (cancel, time limit) while waiting for its turn: it never connects.
      if (options.signal?.aborted) throw new TestumError("conflict", msg("task.stopped_before_start"));
      return { conn: await this.connector.connect(host, { channel }), warm: false };
    } finally {
      release();
    }
  }

  /** Returns a connection after use; a broken one is dropped. */
  release(host: Host, conn: SshConnection): void {
    if (this.closed || !conn.isOpen) {
      conn.end();
      return;
    }
    // A key first seen on this connection has been pinned since: the next job finds the host with it.
    const key = this.keyOf(host.hostKeyFingerprint === null ? { ...host, hostKeyFingerprint: conn.fingerprint } : host);
    const list = this.idle.get(key) ?? [];
    const timer = setTimeout(() => {
      const at = list.findIndex((e) => e.conn === conn);
      if (at !== -1) list.splice(at, 1);
      this.unprepared.delete(conn);
      conn.end();
    }, this.idleMs);
    if (!conn.shellAsked) this.unprepared.add(conn);
    timer.unref();
    list.push({ conn, timer });
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
