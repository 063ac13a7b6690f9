import { createHash } from "node:crypto";
import { SshError, TestumError } from "../../core/errors.js";
import type { Host } from "../../core/hosts.js";
import { msg } from "../../core/i18n.js";
import type { ProbeResult, RemoteAccess } from "../../core/ports.js";
import type { ConnectorDeps } from "./connect-host.js";
import { createHostConnector } from "./connect-host.js";
import { checkPrivateKey, generateEd25519 } from "./ssh.js";

/** Exit status of the write script when the file changed since it was read. */
const CHANGED = 75;

const READ_SCRIPT = `f="$HOME/.ssh/authorized_keys"; if [ -f "$f" ]; then printf 'present\\n'; cat "$f"; else printf 'absent\\n'; fi`;

/**
 * Replaces authorized_keys atomically: a temporary file in the same
 * directory, fsync, rename; the owner kept, mode 600, ~/.ssh 700. Refuses
 * (exit 75) if the file no longer hashes to what was read.
 */
function writeScript(expected: string): string {
  return [
    "set -e",
    "umask 077",
    'd="$HOME/.ssh"; f="$d/authorized_keys"',
    'if [ -f "$f" ]; then cur=$(sha256sum < "$f" | cut -d" " -f1); else cur=absent; fi',
    `[ "$cur" = "${expected}" ] || exit ${CHANGED}`,
    'mkdir -p "$d"; chmod 700 "$d"',
    'tmp="$d/.authorized_keys.testum.$$"',
    "trap 'rm -f \"$tmp\"' EXIT",
    'cat > "$tmp"',
    'chmod 600 "$tmp"',
    'if [ -f "$f" ]; then chown --reference="$f" "$tmp" 2>/dev/null || true; fi',
    'sync "$tmp" 2>/dev/null || true',
    'mv -f "$tmp" "$f"',
    "trap - EXIT",
    'sync "$d" 2>/dev/null || true',
  ].join("\n");
}

/**
 * authorized_keys is handled as latin1 text: one character per byte, so every
 * byte testum does not touch is written back exactly as it was read.
 */
function hashOf(content: string | null): string {
  return content === null ? "absent" : createHash("sha256").update(Buffer.from(content, "latin1")).digest("hex");
}

export function createRemoteAccess(deps: ConnectorDeps): RemoteAccess {
  const connector = createHostConnector(deps);

  async function probe(host: Host, options: { acceptAnyHostKey?: boolean; privateKey?: string } = {}): Promise<ProbeResult> {
    const started = Date.now();
    try {
      const conn = await connector.connect(host, { anyHostKey: options.acceptAnyHostKey, privateKey: options.privateKey });
      const latencyMs = Date.now() - started;
      conn.end();
      return { reachable: true, authenticated: true, fingerprint: conn.fingerprint, latencyMs };
    } catch (err) {
      if (err instanceof SshError) {
        return {
          reachable: err.failure !== "connect",
          authenticated: false,
          fingerprint: err.actualFingerprint,
          latencyMs: err.failure === "connect" ? undefined : Date.now() - started,
          error: err.message,
          errorMessage: err.key ? msg(err.key, err.params) : undefined,
          errorCode: err.code,
        };
      }
      if (err instanceof TestumError) {
        return { reachable: false, authenticated: false, error: err.message, errorMessage: err.key ? msg(err.key, err.params) : undefined, errorCode: err.code };
      }
      throw err;
    }
  }

  async function editAuthorizedKeys(host: Host, edit: (current: string | null) => string | undefined) {
    const conn = await connector.connect(host);
    try {
      for (let attempt = 1; ; attempt++) {
        const read = await conn.captureBytes(READ_SCRIPT);
        if (read.code !== 0) throw new TestumError("ssh_failed", msg("remote.keys_unreadable", { host: host.name, problem: read.stderr.trim() || `exit ${read.code}` }));
        const newline = read.stdout.indexOf(0x0a);
        const state = read.stdout.subarray(0, newline).toString("latin1");
        const before = state === "present" ? read.stdout.subarray(newline + 1).toString("latin1") : null;
        const after = edit(before);
        if (after === undefined || after === before) return { before, after: before, changed: false };
        const write = await conn.capture(writeScript(hashOf(before)), Buffer.from(after, "latin1"));
        if (write.code === 0) return { before, after, changed: true };
        if (write.code !== CHANGED || attempt >= 3) {
          throw new TestumError(
            "ssh_failed",
            write.code === CHANGED
              ? msg("remote.keys_kept_changing", { host: host.name })
              : msg("remote.keys_unwritable", { host: host.name, problem: write.stderr.trim() || `exit ${write.code}` }),
          );
        }
      }
    } finally {
      conn.end();
    }
  }

  return {
    probe,
    editAuthorizedKeys,
    checkPrivateKey(privateKey, passphrase) {
      checkPrivateKey(privateKey, passphrase);
    },
    generateKeyPair(comment) {
      return generateEd25519(comment);
    },
  };
}
