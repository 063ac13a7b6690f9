import { createHash } from "node:crypto";
import { KeyedLock } from "../../core/concurrency.js";
import { SshError, TestumError } from "../../core/errors.js";
import type { Host } from "../../core/hosts/hosts.js";
import { msg } from "../../core/chat/i18n.js";
import type { ProbeResult, RemoteAccess } from "../../core/ports.js";
import type { ConnectorDeps } from "./connect-host.js";
import { createHostConnector } from "./connect-host.js";
import { taskSignalScript } from "./remote-scripts.js";
import { checkPrivateKey, generateEd25519 } from "./keys.js";

/** Exit status of the write script when the file changed since it was read. */
const CHANGED = 75;
/** Reads and compare-and-swap writes before giving up on a file others keep changing. */
const EDIT_ATTEMPTS = 6;
/** Longest a management command (read or write authorized_keys) may take. */
const MANAGEMENT_TIMEOUT_MS = 30_000;
/** Exit status of the write script when authorized_keys is a symbolic link. */
const SYMLINK = 76;

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
    // Replacing a link would silently cut it from the file it points to: that file is someone else's to manage.
    `[ ! -L "$f" ] || exit ${SYMLINK}`,
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
  // Edits of one host by this process wait for each other; other processes are kept
  // out by the write script's compare-and-swap.
  const edits = new KeyedLock<number>();

  async function probe(host: Host, options: { privateKey?: string } = {}): Promise<ProbeResult> {
    const started = Date.now();
    try {
      const conn = await connector.connect(host, { privateKey: options.privateKey });
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
    // The credential is read and the host reached before any wait for other edits.
    const conn = await connector.connect(host);
    try {
      return await edits.run(host.id, async () => {
        for (let attempt = 1; ; attempt++) {
          const read = await conn.captureBytes(READ_SCRIPT, undefined, MANAGEMENT_TIMEOUT_MS);
          if (read.code !== 0) throw new TestumError("ssh_failed", msg("remote.keys_unreadable", { host: host.name, problem: read.stderr.trim() || `exit ${read.code}` }));
          const newline = read.stdout.indexOf(0x0a);
          const state = read.stdout.subarray(0, newline).toString("latin1");
          const before = state === "present" ? read.stdout.subarray(newline + 1).toString("latin1") : null;
          const after = edit(before);
          if (after === undefined || after === before) return { before, after: before, changed: false };
          const write = await conn.captureBytes(writeScript(hashOf(before)), Buffer.from(after, "latin1"), MANAGEMENT_TIMEOUT_MS);
          if (write.code === 0) return { before, after, changed: true };
          if (write.code === SYMLINK) throw new TestumError("ssh_failed", msg("remote.keys_symlink", { host: host.name }));
          if (write.code !== CHANGED || attempt >= EDIT_ATTEMPTS) {
            throw new TestumError(
              "ssh_failed",
              write.code === CHANGED
                ? msg("remote.keys_kept_changing", { host: host.name })
                : msg("remote.keys_unwritable", { host: host.name, problem: write.stderr.trim() || `exit ${write.code}` }),
            );
          }
          // Someone else wrote in between: read again after a short, random pause.
          await new Promise((r) => setTimeout(r, 20 + Math.random() * 200 * attempt));
        }
      });
    } finally {
      conn.end();
    }
  }

  async function stopTask(host: Host, tag: string, pid?: number) {
    const conn = await connector.connect(host);
    // The pid matters only while it still carries the tag (taskSignalScript checks); 2 stands for "none".
    const count = async (signal: "TERM" | "KILL" | "0") => {
      const res = await conn.capture(taskSignalScript(signal, tag, pid && pid > 1 ? pid : 2), undefined, MANAGEMENT_TIMEOUT_MS);
      return Number(res.stdout.trim().split("\n").at(-1)) || 0;
    };
    try {
      const found = await count("0");
      if (found === 0) return { found, left: 0 };
      await count("TERM");
      for (let i = 0; i < 50 && (await count("0")) > 0; i++) await new Promise((r) => setTimeout(r, 100));
      if ((await count("0")) > 0) await count("KILL");
      await new Promise((r) => setTimeout(r, 200));
      return { found, left: await count("0") };
    } finally {
      conn.end();
    }
  }

  return {
    probe,
    fetchHostKey: (host) => connector.fetchHostKey(host),
    editAuthorizedKeys,
    stopTask,
    checkPrivateKey(privateKey, passphrase) {
      checkPrivateKey(privateKey, passphrase);
    },
    generateKeyPair(comment) {
      return generateEd25519(comment);
    },
  };
}
