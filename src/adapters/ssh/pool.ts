import type { Host } from "../../core/hosts.js";
import { trackPool } from "../metrics/process.js";
import type { HostConnector } from "./connect-host.js";
import type { SshConnection } from "./ssh.js";

/**
 * Open SSH connections kept between jobs, one idle list per host. A
 * connection is reused only while it is open and the host's address,
 * credential, pinned key and bastion are what they were when it was made;
 * every new connection checks the host key. Idle connections close after
 * `idleMs`. Hosts behind one bastion share one connection to it (see
 * connect-host.ts), open while any connection through it is.
 */
export class ConnectionPool {
  private readonly idle = new Map<string, Array<{ conn: SshConnection; timer: NodeJS.Timeout }>>();
  private closed = false;
  private readonly tracked = trackPool(this);

  constructor(
    private readonly connector: HostConnector,
    private readonly idleMs = 60_000,
  ) {}

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
  async acquire(host: Host, channel?: string, options: { fresh?: boolean } = {}): Promise<{ conn: SshConnection; warm: boolean }> {
    const list = options.fresh ? undefined : this.idle.get(this.keyOf(host));
    while (list && list.length > 0) {
      const { conn, timer } = list.pop()!;
      clearTimeout(timer);
      if (conn.isOpen) return { conn, warm: true };
    }
    return { conn: await this.connector.connect(host, { channel }), warm: false };
  }

  /** Returns a connection after use; a broken one is dropped. */
  release(host: Host, conn: SshConnection): void {
    if (this.closed || !conn.isOpen) {
      conn.end();
      return;
    }
    const key = this.keyOf(host);
    const list = this.idle.get(key) ?? [];
    const timer = setTimeout(() => {
      const at = list.findIndex((e) => e.conn === conn);
      if (at !== -1) list.splice(at, 1);
      conn.end();
    }, this.idleMs);
    timer.unref();
    list.push({ conn, timer });
    this.idle.set(key, list);
  }

  closeAll(): void {
    this.closed = true;
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
