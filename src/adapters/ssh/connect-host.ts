import { recordAudit } from "../../core/access/audit.js";
import { Batch } from "../../core/concurrency.js";
import type { Sql } from "../../core/db.js";
import { SshError, TestumError } from "../../core/errors.js";
import { getHostById, markHostsSeen, MAX_HOPS, pinHostKey, type Host } from "../../core/hosts/hosts.js";
import { msg } from "../../core/chat/i18n.js";
import { findIdentity, type IdentityKey } from "../../core/hosts/identity.js";
import type { Sealed, SecretBox } from "../../core/hosts/secret-box.js";
import { openSecret, readSealedSecrets } from "../../core/hosts/secrets.js";
import { sshConnectSeconds, trackSshConnection } from "../metrics/process.js";
import { connectSsh, fetchHostKey } from "./handshake.js";
import type { SshConnection, SshTarget } from "./ssh.js";

export interface ConnectorDeps {
  readonly sql: Sql;
  readonly box: SecretBox;
  readonly readyTimeoutMs?: number | undefined;
  /**
   * How long a bastion connection nobody uses stays open (default 0: closed
   * as soon as the last connection through it ends).
   */
  readonly hopIdleMs?: number | undefined;
}

export interface ConnectOptions {
  /** Use this private key instead of the host's credential (identity rotation checks). */
  readonly privateKey?: string;
  /** Conversation to name in the audit log when a key is pinned. */
  readonly channel?: string | undefined;
}

/** How long a bastion that could not be reached is not tried again. */
const FAILURE_HOLD_MS = 2000;

/** A shared bastion connection, and how many connections go through it now. */
interface Hop {
  readonly conn: Promise<SshConnection>;
  /** The connection, once made. */
  opened: SshConnection | undefined;
  users: number;
  idle: NodeJS.Timeout | undefined;
}

/**
 * Connects to a registered host with its credential, decrypted only now,
 * checking the pinned host key and pinning it on first contact. A host with
 * a bastion is reached through one SSH connection to the bastion (itself
 * connected the same way, so its own key is checked and its own bastion
 * used), shared by every connection to hosts behind it. Hosts that connect
 * at the same moment (a fan-out) share the database round trips: their
 * sealed credentials are read in one query and their last-seen times written
 * in one statement; each credential is still opened only for its own
 * connection.
 */
export function createHostConnector(deps: ConnectorDeps) {
  const { sql, box } = deps;
  const hops = new Map<string, Hop>();
  let closed = false;
  const sealed = new Batch<string, Sealed | undefined>(async (ids) => {
    const found = await readSealedSecrets(sql, ids);
    return ids.map((id) => found.get(id));
  });
  const activeIdentity = new Batch<"active", IdentityKey | undefined>(async (asks) => {
    const identity = await findIdentity(sql, "active");
    return asks.map(() => identity);
  });
  const seen = new Batch<number>((ids) => markHostsSeen(sql, ids));

  async function authFor(host: Host): Promise<SshTarget["auth"]> {
    if (host.authMethod === "identity") {
      const identity = await activeIdentity.add("active");
      if (!identity) throw new TestumError("secret_unreadable", msg("identity.missing_start"));
      const credential = openSecret(box, identity.secretId, await sealed.add(identity.secretId));
      if (credential.type !== "key") throw new TestumError("secret_unreadable", msg("identity.not_a_key"));
      return { privateKey: credential.privateKey };
    }
    if (!host.secretId) throw new TestumError("secret_unreadable", msg("hosts.no_credential", { name: host.name }));
    const credential = openSecret(box, host.secretId, await sealed.add(host.secretId));
    return credential.type === "key" ? { privateKey: credential.privateKey, passphrase: credential.passphrase } : { password: credential.password };
  }

  async function pinOnFirstContact(host: Host, fingerprint: string, channel: string | undefined): Promise<void> {
    if (host.hostKeyFingerprint !== null) return;
    if (!(await pinHostKey(sql, host.id, fingerprint))) {
      const current = await getHostById(sql, host.id);
      throw new SshError(
        "host_key_mismatch",
        msg("ssh.host_key_changed_while_connecting", { name: host.name, pinned: String(current?.hostKeyFingerprint), presented: fingerprint }),
        { expected: current?.hostKeyFingerprint ?? undefined, actual: fingerprint },
      );
    }
    await recordAudit(sql, { actor: "system", channel, action: "host_key.pin", target: host.name, outcome: "pinned", detail: { fingerprint } });
  }

  /** A bastion connection is reused only while the bastion is what it was when it was made. */
  const hopKey = (host: Host) => [host.id, host.address, host.port, host.username, host.authMethod, host.secretId, host.hostKeyFingerprint, host.viaHostId].join("|");

  /** The shared connection to `bastion`, opened if there is none; `release()` when done with it. */
  async function leaseHop(bastion: Host, options: ConnectOptions, route: readonly number[]): Promise<{ conn: SshConnection; release: () => void }> {
    const key = hopKey(bastion);
    let hop = hops.get(key);
    // One being made is shared, its failure too; one that was made and has closed since is made again.
    if (hop?.opened && !hop.opened.isOpen) {
      hops.delete(key);
      hop = undefined;
    }
    if (!hop) {
      const made: Hop = { conn: open(bastion, { channel: options.channel }, route), opened: undefined, users: 0, idle: undefined };
      hop = made;
      hops.set(key, made);
      made.conn.then(
        (c) => (made.opened = c),
        // A failure is shared for a moment (the other hosts of a fan-out get it too), then the next connection tries again.
        () => setTimeout(() => hops.get(key) === made && hops.delete(key), FAILURE_HOLD_MS).unref(),
      );
    }
    const entry = hop;
    entry.users++;
    if (entry.idle) clearTimeout(entry.idle);
    entry.idle = undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      entry.users--;
      if (entry.users > 0) return;
      const close = () => {
        if (entry.users > 0) return;
        // A failed one stays for FAILURE_HOLD_MS, so the rest of a fan-out gets its answer.
        if (hops.get(key) === entry && entry.opened) hops.delete(key);
        void entry.conn.then(
          (c) => c.end(),
          () => {},
        );
      };
      const idleMs = deps.hopIdleMs ?? 0;
      if (idleMs <= 0 || closed) return close();
      entry.idle = setTimeout(close, idleMs);
      entry.idle.unref();
    };
    try {
      return { conn: await entry.conn, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /**
   * A channel to `host`'s SSH port through its bastion, with the bastion
   * lease to give back once the channel is done; undefined for a host
   * reached directly.
   */
  async function tunnelTo(host: Host, options: ConnectOptions, route: readonly number[]) {
    if (host.viaHostId === null) return undefined;
    if (route.includes(host.viaHostId) || route.length > MAX_HOPS) {
      throw new SshError("connect", msg("hosts.via_loop", { name: host.name, route: "…" }));
    }
    const bastion = await getHostById(sql, host.viaHostId);
    if (!bastion) throw new TestumError("unknown_host", msg("hosts.via_gone", { name: host.name }));
    const hop = await leaseHop(bastion, options, [...route, host.id]);
    try {
      const where = `${host.name} (${host.address}:${host.port})`;
      const channel = await hop.conn.forwardOut(host.address, host.port, deps.readyTimeoutMs ?? 20_000).catch((err: unknown) => {
        const problem = err instanceof TestumError && err.key ? msg(err.key, err.params) : (err as Error).message;
        throw new SshError("connect", msg("ssh.via_failed", { via: bastion.name, where, problem }), { cause: err });
      });
      // The far end hung up: finish our half too, so the connection over it sees the close
      // (a TCP socket does this by itself; a channel stays half open).
      channel.once("end", () => channel.end());
      return { channel, via: bastion.name, release: hop.release };
    } catch (err) {
      hop.release();
      throw err;
    }
  }

  async function open(host: Host, options: ConnectOptions, route: readonly number[]): Promise<SshConnection> {
    // A password works for whoever receives it: it goes only to a host whose key an admin pinned
    // (`--fingerprint` when added, or `hosts repin` confirmed), never on first contact.
    if (host.authMethod === "password" && host.hostKeyFingerprint === null && !options.privateKey) {
      throw new SshError("host_key_mismatch", msg("ssh.password_needs_pinned_key", { name: host.name }));
    }
    const auth = options.privateKey ? { privateKey: options.privateKey } : await authFor(host);
    const tunnel = await tunnelTo(host, options, route);
    const timer = sshConnectSeconds.startTimer();
    const conn = await connectSsh(
      {
        name: host.name,
        address: host.address,
        port: host.port,
        username: host.username,
        auth,
        expectedFingerprint: host.hostKeyFingerprint,
      },
      { readyTimeoutMs: deps.readyTimeoutMs, sock: tunnel?.channel, via: tunnel?.via },
    ).catch((err: unknown) => {
      timer({ outcome: "failed" });
      tunnel?.channel.close();
      tunnel?.release();
      throw err;
    });
    timer({ outcome: "ok" });
    trackSshConnection(conn);
    if (tunnel) conn.onClose(tunnel.release);
    try {
      await pinOnFirstContact(host, conn.fingerprint, options.channel);
      await seen.add(host.id);
    } catch (err) {
      conn.end();
      throw err;
    }
    return conn;
  }

  return {
    authFor,
    /**
     * Reads the host key `host` presents, offering no credential to it (a
     * host behind a bastion is reached through the bastion, which is
     * authenticated and checked as usual).
     */
    async fetchHostKey(host: Host): Promise<string> {
      const tunnel = await tunnelTo(host, {}, []);
      try {
        return await fetchHostKey(host, { readyTimeoutMs: deps.readyTimeoutMs, sock: tunnel?.channel, via: tunnel?.via });
      } finally {
        tunnel?.channel.close();
        tunnel?.release();
      }
    },
    /** Closes the bastion connections nobody uses, and every one as soon as it is given back. */
    closeHops(): void {
      closed = true;
      for (const [key, hop] of hops) {
        if (hop.users > 0) continue;
        if (hop.idle) clearTimeout(hop.idle);
        hops.delete(key);
        void hop.conn.then(
          (c) => c.end(),
          () => {},
        );
      }
    },
    connect(host: Host, options: ConnectOptions = {}): Promise<SshConnection> {
      return open(host, options, []);
    },
  };
}

export type HostConnector = ReturnType<typeof createHostConnector>;
