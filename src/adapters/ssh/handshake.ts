import ssh2 from "ssh2";
import type { Duplex } from "node:stream";
import type { CipherAlgorithm, ConnectConfig, KexAlgorithm } from "ssh2";
import { assertNoTransaction } from "../../core/db.js";
import { SshError } from "../../core/errors.js";
import { msg, type Message } from "../../core/chat/i18n.js";
import { fingerprintOfBlob } from "../../core/hosts/public-keys.js";
import { SshConnection, type ConnectOptions, type SshTarget } from "./ssh.js";

const { Client } = ssh2;

/**
 * The SSH handshake: reading a host's key before it is pinned, and opening a
 * connection that checks the pinned key, each failure an SshError that says
 * which step failed.
 */

/**
 * Reads the host key a server presents, and nothing more: the handshake is
 * refused right after the key arrives, so no user name, password or key
 * signature is ever offered to a server not known yet.
 */
export function fetchHostKey(
  target: Pick<SshTarget, "name" | "address" | "port">,
  options: { readyTimeoutMs?: number | undefined; sock?: Duplex | undefined; via?: string | undefined } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    assertNoTransaction(`reading the host key of ${target.name}`);
    const client = new Client();
    let seen: string | undefined;
    let settled = false;
    const where = `${target.name} (${target.address}:${target.port}${options.via ? ` via ${options.via}` : ""})`;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      client.end();
      outcome();
    };
    client.on("ready", () => finish(() => reject(new SshError("other", msg("ssh.failed", { where, problem: "the server did not wait for its host key to be checked" })))));
    client.on("error", (err: Error & { level?: string; code?: string }) => {
      if (seen) return finish(() => resolve(seen!));
      const problem = err.level === "client-timeout" ? msg("ssh.no_handshake") : err.level === "client-socket" || err.code ? describeSocketError(err) : err.message;
      finish(() => reject(new SshError("connect", msg("ssh.connect_failed", { where, problem }), { cause: err })));
    });
    client.on("close", () => finish(() => (seen ? resolve(seen) : reject(new SshError("connect", msg("ssh.connect_failed", { where, problem: msg("ssh.no_handshake") }))))));
    try {
      client.connect({
        host: target.address,
        port: target.port,
        username: "testum-host-key-check",
        readyTimeout: options.readyTimeoutMs ?? 20_000,
        ...(options.sock ? { sock: options.sock } : {}),
        hostVerifier: (key: Buffer) => {
          seen = fingerprintOfBlob(key);
          // Refusing the key ends the handshake before authentication starts.
          return false;
        },
      });
    } catch (err) {
      finish(() => reject(new SshError("other", msg("ssh.failed", { where, problem: (err as Error).message }), { cause: err })));
    }
  });
}

/**
 * Key exchange and ciphers, cheapest first on both ends: curve25519 costs a
 * fraction of the CPU of the NIST curves and of finite-field Diffie-Hellman,
 * and AES-GCM runs in hardware on nearly every host; every other algorithm
 * ssh2 supports stays behind them for hosts that lack these. The host key
 * algorithms keep ssh2's order (ed25519 first): it decides which of a host's
 * keys is presented, and so which fingerprint is pinned and checked.
 */
const FAST_KEX: KexAlgorithm[] = ["curve25519-sha256", "curve25519-sha256@libssh.org"];
const FAST_CIPHER: CipherAlgorithm[] = ["aes128-gcm@openssh.com"];
// ssh2 applies these in order: taken out of its default list, then put in front.
const ALGORITHMS: ConnectConfig["algorithms"] = {
  kex: { remove: FAST_KEX, prepend: FAST_KEX, append: [] },
  cipher: { remove: FAST_CIPHER, prepend: FAST_CIPHER, append: [] },
};

/**
 * Opens an SSH connection, verifying the host key against the pinned
 * fingerprint. Failures are SshErrors that say which step failed.
 */
export function connectSsh(target: SshTarget, options: ConnectOptions = {}): Promise<SshConnection> {
  return new Promise((resolve, reject) => {
    assertNoTransaction(`an SSH connection to ${target.name}`);
    const client = new Client();
    let seen: string | undefined;
    let mismatch = false;
    let settled = false;
    const where = `${target.name} (${target.username}@${target.address}:${target.port}${options.via ? ` via ${options.via}` : ""})`;

    const fail = (err: SshError) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };

    client.on("ready", () => {
      if (settled) return;
      settled = true;
      const socket = (client as unknown as { _sock?: { setNoDelay?: (v: boolean) => void } })._sock;
      socket?.setNoDelay?.(true);
      resolve(new SshConnection(client, target, seen!, options.helperCommandMs));
    });
    client.on("error", (err: Error & { level?: string; code?: string }) => {
      if (mismatch) {
        fail(
          new SshError("host_key_mismatch", msg("ssh.host_key_changed", { where, pinned: String(target.expectedFingerprint), presented: String(seen), name: target.name }), {
            expected: target.expectedFingerprint ?? undefined,
            actual: seen,
            host: target.name,
          }),
        );
      } else if (err.level === "client-authentication") {
        fail(new SshError("auth", msg("ssh.auth_refused", { where, user: target.username, problem: err.message }), { cause: err, actual: seen }));
      } else if (err.level === "client-timeout") {
        fail(new SshError("connect", msg("ssh.connect_failed", { where, problem: msg("ssh.no_handshake") }), { cause: err }));
      } else if (err.level === "client-socket" || err.code) {
        fail(new SshError("connect", msg("ssh.connect_failed", { where, problem: describeSocketError(err) }), { cause: err }));
      } else {
        fail(new SshError("other", msg("ssh.failed", { where, problem: err.message }), { cause: err }));
      }
    });

    const config: ConnectConfig = {
      host: target.address,
      port: target.port,
      username: target.username,
      algorithms: ALGORITHMS,
      readyTimeout: options.readyTimeoutMs ?? 20_000,
      keepaliveInterval: options.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: 3,
      ...(options.sock ? { sock: options.sock } : {}),
      hostVerifier: (key: Buffer) => {
        seen = fingerprintOfBlob(key);
        if (target.expectedFingerprint !== null && seen !== target.expectedFingerprint) {
          mismatch = true;
          return false;
        }
        return true;
      },
    };
    if ("password" in target.auth) {
      config.password = target.auth.password;
      config.tryKeyboard = false;
    } else {
      config.privateKey = target.auth.privateKey;
      if (target.auth.passphrase) config.passphrase = target.auth.passphrase;
    }
    try {
      client.connect(config);
    } catch (err) {
      fail(new SshError("other", msg("ssh.failed", { where, problem: (err as Error).message }), { cause: err }));
    }
  });
}

function describeSocketError(err: Error & { code?: string }): Message | string {
  switch (err.code) {
    case "ECONNREFUSED":
      return msg("ssh.socket.refused");
    case "ETIMEDOUT":
      return msg("ssh.socket.timed_out");
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return msg("ssh.socket.unreachable");
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return msg("ssh.socket.unresolved");
    case "ECONNRESET":
      return msg("ssh.socket.reset");
    default:
      return err.message;
  }
}
