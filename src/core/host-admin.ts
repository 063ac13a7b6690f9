import { recordAudit } from "./audit.js";
import { transaction, type Sql } from "./db.js";
import { TestumError } from "./errors.js";
import { addHost, getHost, updateHostAuth, validateNewHost, type Host } from "./hosts.js";
import { english, msg, say, type Translator } from "./i18n.js";
import type { Inventory } from "./inventory.js";
import type { ProbeResult, RemoteAccess } from "./ports.js";
import type { SecretBox } from "./secret-box.js";
import { deleteSecret, storeSecret, type Credential } from "./secrets.js";

/** Managing hosts: the operations behind both the chat commands and the CLI. */

/** `user@host[:port]` (IPv6 in brackets: `user@[::1]:22`). */
export function parseAddress(spec: string): { username: string; address: string; port: number } {
  const match = /^([A-Za-z0-9._][A-Za-z0-9._-]*)@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(spec);
  if (!match) throw new TestumError("invalid_input", msg("hosts.bad_address_spec", { spec }));
  return { username: match[1]!, address: match[2]!.replace(/^\[(.*)\]$/, "$1"), port: match[3] ? Number(match[3]) : 22 };
}

export function parseTags(pairs: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([a-z0-9_.-]{1,63})=(\S{0,200})$/i.exec(pair);
    if (!match) throw new TestumError("invalid_input", msg("hosts.bad_tag", { pair }));
    tags[match[1]!.toLowerCase()] = match[2]!;
  }
  return tags;
}

export function describeHost(host: Host, t: Translator = english, via: string | null = null): string[] {
  const tags = Object.entries(host.tags).map(([k, v]) => `${k}=${v}`).join(", ");
  return [
    t("hosts.show.name", { value: host.name }),
    t("hosts.show.address", { value: `${host.username}@${host.address}:${host.port}` }),
    t("hosts.show.via", { value: via ?? msg("hosts.show.direct") }),
    t("hosts.show.auth", { value: msg(`hosts.auth.${host.authMethod}`) }),
    t("hosts.show.host_key", { value: host.hostKeyFingerprint ?? msg("hosts.show.not_pinned") }),
    t("hosts.show.tags", { value: tags || msg("word.none") }),
    t("hosts.show.last_seen", { value: host.lastSeenAt?.toISOString() ?? msg("word.never") }),
    t("hosts.show.added", { at: host.createdAt.toISOString(), by: host.createdBy }),
  ];
}

export async function setTags(sql: Sql, actor: string, name: string, tags: Record<string, string>, channel?: string): Promise<Host> {
  const host = await getHost(sql, name);
  const [updated] = await sql<Host[]>`update hosts set tags = tags || ${sql.json(tags as never)} where id = ${host.id} returning *`;
  await recordAudit(sql, { actor, channel, action: "host.tag", target: name, outcome: "tagged", detail: { tags } });
  return updated!;
}

export async function removeTags(sql: Sql, actor: string, name: string, keys: readonly string[], channel?: string): Promise<Host> {
  const host = await getHost(sql, name);
  const missing = keys.filter((k) => !(k.toLowerCase() in host.tags));
  if (missing.length > 0) throw new TestumError("invalid_input", msg("hosts.no_tag", { name, tags: missing.join(", ") }));
  const [updated] = await sql<Host[]>`update hosts set tags = tags - ${sql.array(keys.map((k) => k.toLowerCase()))}::text[] where id = ${host.id} returning *`;
  await recordAudit(sql, { actor, channel, action: "host.untag", target: name, outcome: "untagged", detail: { keys } });
  return updated!;
}

export function describeProbe(host: Host, probe: ProbeResult, t: Translator = english): string[] {
  const lines = [`${host.name} (${host.username}@${host.address}:${host.port})`];
  lines.push(t("hosts.probe.reachable", { value: msg(probe.reachable ? "word.yes" : "word.no") }));
  if (probe.fingerprint) {
    const changed = host.hostKeyFingerprint && probe.fingerprint !== host.hostKeyFingerprint;
    lines.push(changed ? t("hosts.probe.host_key_pinned", { fingerprint: probe.fingerprint, pinned: host.hostKeyFingerprint! }) : t("hosts.probe.host_key", { fingerprint: probe.fingerprint }));
  }
  if (probe.latencyMs !== undefined) lines.push(t("hosts.probe.latency", { ms: probe.latencyMs }));
  lines.push(t(probe.authenticated ? "hosts.probe.auth_accepted" : "hosts.probe.auth_refused"));
  if (probe.error) lines.push(t("hosts.probe.problem", { problem: probe.errorMessage ? say(t, probe.errorMessage) : probe.error }));
  return lines;
}

/**
 * The host key a host presents now, next to the pinned one. Nothing is
 * pinned and no credential is sent: only the key is read.
 */
export async function inspectHostKey(sql: Sql, remote: RemoteAccess, name: string): Promise<{ host: Host; old: string | null; presented: string }> {
  const host = await getHost(sql, name);
  const presented = await remote.fetchHostKey(host).catch((err: unknown) => {
    const problem = err instanceof TestumError && err.key ? msg(err.key, err.params) : err instanceof Error ? err.message : String(err);
    throw new TestumError("ssh_connect_failed", msg("hosts.repin_unreadable", { name, problem }));
  });
  return { host, old: host.hostKeyFingerprint, presented };
}

/**
 * Pins the key a host presents now, once someone confirmed it: `confirmed`
 * is the whole fingerprint they typed, or the start of it a confirmation
 * button carries. The key is read again and pinned only if it is the one
 * confirmed.
 */
export async function repinHost(sql: Sql, remote: RemoteAccess, actor: string, name: string, confirmed: string, channel?: string) {
  const { host, old, presented } = await inspectHostKey(sql, remote, name);
  if (!(presented === confirmed || (confirmed.length >= 27 && presented.startsWith(confirmed)))) {
    await recordAudit(sql, { actor, channel, action: "host_key.repin", target: name, outcome: "refused", detail: { old, presented, confirmed } });
    throw new TestumError("host_key_mismatch", msg("hosts.repin_other_key", { name, presented, confirmed }));
  }
  if (old !== presented) {
    await sql`update hosts set host_key_fingerprint = ${presented}, host_key_pinned_at = now() where id = ${host.id}`;
  }
  await recordAudit(sql, { actor, channel, action: "host_key.repin", target: name, outcome: old === presented ? "unchanged" : "repinned", detail: { old, new: presented } });
  return { old, new: presented };
}

/** Stores a password or private key for a host (from the CLI or a private form) and switches it to that credential. */
export async function setCredential(sql: Sql, box: SecretBox, actor: string, name: string, credential: Credential, channel?: string): Promise<void> {
  const host = await getHost(sql, name);
  await transaction(sql, async (tx) => {
    const secretId = await storeSecret(tx as unknown as Sql, box, credential);
    await updateHostAuth(tx as unknown as Sql, host.id, credential.type, secretId);
    if (host.secretId) await deleteSecret(tx as unknown as Sql, host.secretId);
  });
  await recordAudit(sql, { actor, channel, action: "host.credential", target: name, outcome: "stored", detail: { kind: credential.type } });
}

export interface ImportSummary {
  readonly added: string[];
  readonly updated: string[];
  readonly skipped: Array<{ name: string; reason: string }>;
}

/**
 * Adds or updates hosts from an inventory. A host with an identity file gets
 * that key; one without authenticates with testum's identity key.
 */
export async function importInventory(
  sql: Sql,
  box: SecretBox,
  actor: string,
  inventory: Inventory,
  readKey: (path: string) => Promise<Credential>,
  defaultUser: string,
): Promise<ImportSummary> {
  const summary: ImportSummary = { added: [], updated: [], skipped: [...inventory.skipped] };
  for (const entry of inventory.hosts) {
    try {
      const credential = entry.identityFile ? await readKey(entry.identityFile) : undefined;
      const input = { name: entry.name, address: entry.address, port: entry.port ?? 22, username: entry.username ?? defaultUser, credential, tags: entry.tags, createdBy: actor };
      validateNewHost(input);
      const [existing] = await sql<Host[]>`select * from hosts where name = ${entry.name}`;
      if (!existing) {
        await addHost(sql, box, input);
        summary.added.push(entry.name);
      } else {
        await sql`
          update hosts set address = ${input.address}, port = ${input.port}, username = ${input.username},
            tags = tags || ${sql.json(entry.tags as never)}
          where id = ${existing.id}`;
        if (credential) await setCredential(sql, box, actor, entry.name, credential);
        summary.updated.push(entry.name);
      }
    } catch (err) {
      summary.skipped.push({ name: entry.name, reason: `${entry.source}: ${(err as Error).message}` });
    }
  }
  await recordAudit(sql, { actor, action: "host.import", target: inventory.format, outcome: "imported", detail: { added: summary.added, updated: summary.updated, skipped: summary.skipped.map((s) => s.name) } });
  return summary;
}
