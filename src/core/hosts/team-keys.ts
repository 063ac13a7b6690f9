import { recordAudit } from "../access/audit.js";
import { parseAuthorizedKeys, renderAuthorizedKeys, withKeys, withoutKeys, type ManagedKey } from "./authorized-keys.js";
import type { Sql } from "../db.js";
import { TestumError } from "../errors.js";
import { HOST_NAME } from "../commands/grammar.js";
import type { Host } from "./hosts.js";
import { english, msg, say, type Message } from "../chat/i18n.js";
import { mapLimit } from "../concurrency.js";
import type { RemoteAccess } from "../ports.js";
import { parsePublicKey } from "./public-keys.js";
import { resolveTarget } from "./targets.js";

/** The team's public keys, and deploying them into hosts' authorized_keys. */
export interface TeamKey {
  readonly id: number;
  readonly name: string;
  readonly type: string;
  readonly blob: string;
  readonly comment: string;
  readonly fingerprint: string;
  readonly createdBy: string;
  readonly createdAt: Date;
}

export const keyOwner = (key: Pick<TeamKey, "name">) => `key:${key.name}`;

/** The line as written into authorized_keys; the comment is kept to printable ASCII. */
export function keyLine(key: Pick<TeamKey, "type" | "blob" | "comment">): string {
  const comment = key.comment.replace(/[^\x21-\x7e ]/g, "_").trim();
  return `${key.type} ${key.blob}${comment ? ` ${comment}` : ""}`;
}

export async function listKeys(sql: Sql): Promise<TeamKey[]> {
  return sql<TeamKey[]>`select * from team_keys order by name`;
}

export async function getKey(sql: Sql, name: string): Promise<TeamKey> {
  const [key] = await sql<TeamKey[]>`select * from team_keys where name = ${name}`;
  if (!key) throw new TestumError("invalid_input", msg("keys.unknown", { name }));
  return key;
}

export async function addKey(sql: Sql, actor: string, name: string, line: string): Promise<TeamKey> {
  if (!HOST_NAME.test(name)) throw new TestumError("invalid_input", msg("keys.bad_name", { name }));
  const parsed = parsePublicKey(line);
  const [clash] = await sql<TeamKey[]>`select * from team_keys where name = ${name} or fingerprint = ${parsed.fingerprint}`;
  if (clash) {
    throw new TestumError("conflict", clash.name === name ? msg("keys.exists", { name }) : msg("keys.registered_as", { name: clash.name, fingerprint: clash.fingerprint }));
  }
  const [key] = await sql<TeamKey[]>`
    insert into team_keys (name, type, blob, comment, fingerprint, created_by)
    values (${name}, ${parsed.type}, ${parsed.blob}, ${parsed.comment}, ${parsed.fingerprint}, ${actor})
    returning *`;
  return key!;
}

/** Removes a key from the registry; it must not be deployed anywhere. */
export async function removeKey(sql: Sql, name: string): Promise<TeamKey> {
  const key = await getKey(sql, name);
  const hosts = await sql<{ name: string }[]>`
    select h.name from key_deployments d join hosts h on h.id = d.host_id where d.key_id = ${key.id} order by h.name`;
  if (hosts.length > 0) {
    throw new TestumError("conflict", msg("keys.still_deployed", { name, hosts: hosts.map((h) => h.name).join(", ") }));
  }
  await sql`delete from team_keys where id = ${key.id}`;
  return key;
}

export interface HostOutcome {
  readonly host: string;
  readonly ok: boolean;
  /** What happened, in English (CLI, audit). */
  readonly summary: string;
  /** The same, to be said in the reader's language (CLI-only operations leave it out). */
  readonly message?: Message | undefined;
}

function outcome(host: string, ok: boolean, message: Message): HostOutcome {
  return { host, ok, summary: say(english, message), message };
}

/** Outcomes as the audit trail keeps them: in English. */
const audited = (outcomes: readonly HostOutcome[]) => outcomes.map(({ host, ok, summary }) => ({ host, ok, summary }));

export interface KeyDeps {
  readonly sql: Sql;
  readonly remote: RemoteAccess;
}

/**
 * Edits one host's authorized_keys block. No database transaction or lock is
 * held while the host is reached: the connection (and its credential) is made
 * first, edits of one host are serialised within a process, and across
 * processes the file is replaced only if it still holds what was read
 * (otherwise it is read again), so no edit is lost.
 */
export async function editHostKeys(
  deps: KeyDeps,
  host: Host,
  change: (managed: readonly ManagedKey[]) => ManagedKey[],
): Promise<{ changed: boolean; before: ManagedKey[]; after: ManagedKey[] }> {
  let before: ManagedKey[] = [];
  let after: ManagedKey[] = [];
  const result = await deps.remote.editAuthorizedKeys(host, (content) => {
    const file = parseAuthorizedKeys(content);
    before = [...file.managed];
    after = change(file.managed);
    const next = renderAuthorizedKeys(file, after);
    return next === (content ?? "") ? undefined : next;
  });
  return { changed: result.changed, before, after };
}

function describeChange(before: readonly ManagedKey[], after: readonly ManagedKey[]): Message {
  const added = after.filter((a) => !before.some((b) => b.owner === a.owner && b.key === a.key)).length;
  const removed = before.filter((b) => !after.some((a) => a.owner === b.owner)).length;
  if (added && removed) return msg("keys.change.added_removed", { added, removed });
  if (added) return msg("keys.change.added", { added });
  if (removed) return msg("keys.change.removed", { removed });
  return msg("keys.change.unchanged");
}

/** A target as typed, and the hosts it was resolved to (and authorised on) by the caller. */
export interface ResolvedTarget {
  readonly text: string;
  readonly hosts: readonly Host[];
}

/** Resolves a target for a caller that needs no authorisation (the CLI, which holds the database credentials). */
export async function targetOf(sql: Sql, text: string): Promise<ResolvedTarget> {
  return { text, hosts: await resolveTarget(sql, text) };
}

async function eachHost(hosts: readonly Host[], work: (host: Host) => Promise<HostOutcome>): Promise<HostOutcome[]> {
  return mapLimit(hosts, 16, async (host) => {
    try {
      return await work(host);
    } catch (err) {
      const problem = err instanceof TestumError && err.key ? msg(err.key, err.params) : (err as Error).message;
      return outcome(host.name, false, msg("keys.change.failed", { problem }));
    }
  });
}

/** Deploys keys (`NAME` or `all`) to every host of a target. */
export async function deployKeys(deps: KeyDeps, actor: string, which: string, target: ResolvedTarget, channel?: string): Promise<HostOutcome[]> {
  const keys = which === "all" ? await listKeys(deps.sql) : [await getKey(deps.sql, which)];
  if (keys.length === 0) throw new TestumError("invalid_input", msg("keys.none_registered"));
  const managed = keys.map((k) => ({ owner: keyOwner(k), key: keyLine(k) }));
  const outcomes = await eachHost(target.hosts, async (host) => {
    const result = await editHostKeys(deps, host, (current) => withKeys(current, managed));
    for (const key of keys) {
      await deps.sql`
        insert into key_deployments (key_id, host_id, deployed_by) values (${key.id}, ${host.id}, ${actor})
        on conflict (key_id, host_id) do nothing`;
    }
    return outcome(host.name, true, result.changed ? describeChange(result.before, result.after) : msg("keys.change.unchanged"));
  });
  await recordAudit(deps.sql, {
    actor,
    channel,
    action: "keys.deploy",
    target: target.text,
    outcome: outcomes.every((o) => o.ok) ? "succeeded" : "partial",
    detail: { keys: keys.map((k) => k.name), hosts: audited(outcomes) },
  });
  return outcomes;
}

/** Removes a key from every host of a target. */
export async function revokeKey(deps: KeyDeps, actor: string, name: string, target: ResolvedTarget, channel?: string): Promise<HostOutcome[]> {
  const key = await getKey(deps.sql, name);
  const outcomes = await eachHost(target.hosts, async (host) => {
    const result = await editHostKeys(deps, host, (current) => withoutKeys(current, [keyOwner(key)]));
    await deps.sql`delete from key_deployments where key_id = ${key.id} and host_id = ${host.id}`;
    return outcome(host.name, true, result.changed ? describeChange(result.before, result.after) : msg("keys.change.not_present"));
  });
  await recordAudit(deps.sql, {
    actor,
    channel,
    action: "keys.revoke",
    target: target.text,
    outcome: outcomes.every((o) => o.ok) ? "succeeded" : "partial",
    detail: { key: name, hosts: audited(outcomes) },
  });
  return outcomes;
}

/** Per host: managed keys present, keys that should be there but are not, and lines testum does not manage. */
export async function keyStatus(deps: KeyDeps, hosts: readonly Host[]): Promise<HostOutcome[]> {
  const keys = await listKeys(deps.sql);
  return eachHost(hosts, async (host) => {
    let present: ManagedKey[] = [];
    let unmanaged = 0;
    await deps.remote.editAuthorizedKeys(host, (content) => {
      const file = parseAuthorizedKeys(content);
      present = [...file.managed];
      unmanaged = file.unmanagedCount;
      return undefined;
    });
    const expected = await deps.sql<{ keyId: number }[]>`select key_id from key_deployments where host_id = ${host.id}`;
    const missing = keys.filter((k) => expected.some((e) => e.keyId === k.id) && !present.some((p) => p.owner === keyOwner(k) && p.key === keyLine(k)));
    const names = present.map((p) => {
      const identity = /^identity:(\d+)$/.exec(p.owner);
      return identity ? msg("keys.status.identity", { id: identity[1]! }) : p.owner.replace(/^key:/, "");
    });
    return outcome(
      host.name,
      missing.length === 0,
      msg("keys.status.line", { present: names.length ? names : msg("word.none"), missing: missing.map((k) => k.name).join(", ") || msg("word.none"), count: unmanaged }),
    );
  });
}
