import { recordAudit } from "../../core/audit.js";
import type { Sql } from "../../core/db.js";
import { SshError, TestumError } from "../../core/errors.js";
import { getHostById, markHostSeen, pinHostKey, type Host } from "../../core/hosts.js";
import { msg } from "../../core/i18n.js";
import { findIdentity, identityPrivateKey } from "../../core/identity.js";
import type { SecretBox } from "../../core/secret-box.js";
import { readSecret } from "../../core/secrets.js";
import { sshConnectSeconds, trackSshConnection } from "../metrics/process.js";
import { connectSsh, type SshConnection, type SshTarget } from "./ssh.js";

export interface ConnectorDeps {
  readonly sql: Sql;
  readonly box: SecretBox;
  readonly readyTimeoutMs?: number | undefined;
}

export interface ConnectOptions {
  /** Use this private key instead of the host's credential (identity rotation checks). */
  readonly privateKey?: string;
  /** Conversation to name in the audit log when a key is pinned. */
  readonly channel?: string | undefined;
}

/**
 * Connects to a registered host with its credential, decrypted only now,
 * checking the pinned host key and pinning it on first contact.
 */
export function createHostConnector(deps: ConnectorDeps) {
  const { sql, box } = deps;

  async function authFor(host: Host): Promise<SshTarget["auth"]> {
    if (host.authMethod === "identity") {
      const identity = await findIdentity(sql, "active");
      if (!identity) throw new TestumError("secret_unreadable", msg("identity.missing_start"));
      return { privateKey: await identityPrivateKey(sql, box, identity) };
    }
    if (!host.secretId) throw new TestumError("secret_unreadable", msg("hosts.no_credential", { name: host.name }));
    const credential = await readSecret(sql, box, host.secretId);
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

  return {
    authFor,
    async connect(host: Host, options: ConnectOptions = {}): Promise<SshConnection> {
      // A password works for whoever receives it: it goes only to a host whose key an admin pinned
      // (`--fingerprint` when added, or `hosts repin` confirmed), never on first contact.
      if (host.authMethod === "password" && host.hostKeyFingerprint === null && !options.privateKey) {
        throw new SshError("host_key_mismatch", msg("ssh.password_needs_pinned_key", { name: host.name }));
      }
      const auth = options.privateKey ? { privateKey: options.privateKey } : await authFor(host);
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
        { readyTimeoutMs: deps.readyTimeoutMs },
      ).catch((err: unknown) => {
        timer({ outcome: "failed" });
        throw err;
      });
      timer({ outcome: "ok" });
      trackSshConnection(conn);
      try {
        await pinOnFirstContact(host, conn.fingerprint, options.channel);
        await markHostSeen(sql, host.id);
      } catch (err) {
        conn.end();
        throw err;
      }
      return conn;
    },
  };
}

export type HostConnector = ReturnType<typeof createHostConnector>;
