import { recordAudit } from "../access/audit.js";
import { transaction, type Sql } from "../db.js";
import { TestumError } from "../errors.js";
import { addHost, getHost, listHosts, setVia, updateHostAuth, validateNewHost, type Host } from "./hosts.js";
import { english, msg, say, type Translator } from "../chat/i18n.js";
import { importedHostName, type ImportedHost, type Inventory, type JumpHop } from "./inventory.js";
import type { ProbeResult, RemoteAccess } from "../ports.js";
import type { SecretBox } from "./secret-box.js";
import { deleteSecret, storeSecret, type Credential } from "./secrets.js";
import { formatTime, formatTimeAgo } from "../chat/time.js";

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
  const tags = Object.entries(host.tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  return [
    t("hosts.show.name", { value: host.name }),
    t("hosts.show.address", { value: `${host.username}@${host.address}:${host.port}` }),
    t("hosts.show.via", { value: via ?? msg("hosts.show.direct") }),
    t("hosts.show.auth", { value: msg(`hosts.auth.${host.authMethod}`) }),
    t("hosts.show.host_key", { value: host.hostKeyFingerprint ?? msg("hosts.show.not_pinned") }),
    t("hosts.show.tags", { value: tags || msg("word.none") }),
    t("hosts.show.last_seen", { value: host.lastSeenAt ? formatTimeAgo(host.lastSeenAt, t) : msg("word.never") }),
    t("hosts.show.added", { at: formatTime(host.createdAt), by: host.createdBy }),
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
  // The credential could not be opened: nothing was tried on the host, so nothing is said about it.
  if (probe.errorCode === "secret_unreadable") return [...lines, t("hosts.probe.not_tried", { problem: probe.errorMessage ? say(t, probe.errorMessage) : (probe.error ?? "") })];
  lines.push(t("hosts.probe.reachable", { value: msg(probe.reachable ? "word.yes" : "word.no") }));
  if (probe.fingerprint) {
    const changed = host.hostKeyFingerprint && probe.fingerprint !== host.hostKeyFingerprint;
    // `host` is as it was before the probe: a key it did not have yet was pinned by this first contact.
    const key = changed ? "hosts.probe.host_key_pinned" : host.hostKeyFingerprint ? "hosts.probe.host_key" : "hosts.probe.host_key_pinned_now";
    lines.push(t(key, { fingerprint: probe.fingerprint, pinned: host.hostKeyFingerprint ?? "" }));
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
  /** Hosts the file sends through a bastion: name → bastion. */
  readonly via: Record<string, string>;
}

const hopText = (hop: JumpHop) => `${hop.user ? `${hop.user}@` : ""}${hop.host}${hop.port ? `:${hop.port}` : ""}`;

/**
 * The bastion of each host the file names one for (a testum host name; null:
 * directly), or why it cannot be imported. A hop names a host of the file
 * (its alias) or a registered host, by name, else by address (and port and
 * user where the hop gives them). Several hops are honoured when each
 * bastion goes through the hop before it, as testum chains bastions.
 */
function routesOf(inventory: Inventory, registered: readonly Host[]): { routes: Map<string, string | null>; problems: Map<string, string> } {
  const inFile = new Map(inventory.hosts.map((e) => [e.name, e]));
  const known = [
    ...inventory.hosts.map((e) => ({ name: e.name, address: e.address, port: e.port ?? 22, user: e.username })),
    ...registered.filter((h) => !inFile.has(h.name)).map((h) => ({ name: h.name, address: h.address, port: h.port, user: h.username as string | undefined })),
  ];
  const resolve = (hop: JumpHop): string | undefined => {
    const name = importedHostName(hop.host);
    if (name && (inFile.has(name) || registered.some((h) => h.name === name))) return name;
    return known.find((k) => k.address === hop.host && (hop.port === undefined || k.port === hop.port) && (hop.user === undefined || k.user === undefined || k.user === hop.user))
      ?.name;
  };
  const routes = new Map<string, string | null>();
  const problems = new Map<string, string>();
  const hopsOf = new Map<string, string[]>();
  for (const entry of inventory.hosts) {
    if (entry.jump === undefined) continue;
    if (entry.jump === "none") {
      routes.set(entry.name, null);
      continue;
    }
    const names = entry.jump.map(resolve);
    const missing = entry.jump.find((_, i) => names[i] === undefined);
    if (missing) {
      problems.set(entry.name, `${entry.source}: the bastion ${hopText(missing)} is neither in this file nor registered; add it first (testum hosts add …) and import again`);
      continue;
    }
    routes.set(entry.name, names.at(-1)!);
    hopsOf.set(entry.name, names as string[]);
  }
  const byId = new Map(registered.map((h) => [h.id, h.name]));
  const viaOf = (name: string): string | null | undefined => {
    if (routes.has(name)) return routes.get(name);
    const host = registered.find((h) => h.name === name);
    return host ? (host.viaHostId === null ? null : (byId.get(host.viaHostId) ?? null)) : null;
  };
  for (const [name, hops] of hopsOf) {
    for (let i = 1; i < hops.length; i++) {
      if (viaOf(hops[i]!) !== hops[i - 1]) {
        const entry = inFile.get(name)!;
        problems.set(
          name,
          `${entry.source}: ProxyJump ${hops.join(",")}: testum goes through one bastion per host, and ${hops[i]} does not itself go through ${hops[i - 1]}; give ${hops[i]} its own ProxyJump ${hops[i - 1]} (or testum hosts via ${hops[i]} ${hops[i - 1]})`,
        );
        routes.delete(name);
        break;
      }
    }
  }
  return { routes, problems };
}

/**
 * Adds or updates hosts from an inventory. A host with an identity file gets
 * that key; one without authenticates with testum's identity key. Bastions
 * are imported before the hosts behind them; a host whose file names a
 * bastion goes through it (ProxyJump none: directly), one whose file says
 * nothing keeps its route.
 */
export async function importInventory(
  sql: Sql,
  box: SecretBox,
  actor: string,
  inventory: Inventory,
  readKey: (path: string) => Promise<Credential>,
  defaultUser: string,
): Promise<ImportSummary> {
  const summary: ImportSummary = { added: [], updated: [], skipped: [...inventory.skipped], via: {} };
  const { routes, problems } = routesOf(inventory, await listHosts(sql));
  // Bastions first; a loop within the file is said, not followed.
  const ordered: ImportedHost[] = [];
  const state = new Map<string, "visiting" | "done">();
  const entries = new Map(inventory.hosts.map((e) => [e.name, e]));
  const visit = (entry: ImportedHost, path: string[]) => {
    if (state.get(entry.name) === "done") return;
    if (state.get(entry.name) === "visiting") {
      const loop = [...path.slice(path.indexOf(entry.name)), entry.name];
      for (const name of loop) problems.set(name, `${entries.get(name)!.source}: the bastions go round in a loop (${loop.join(" → ")})`);
      return;
    }
    state.set(entry.name, "visiting");
    const via = routes.get(entry.name);
    const bastion = via ? entries.get(via) : undefined;
    if (bastion) visit(bastion, [...path, entry.name]);
    state.set(entry.name, "done");
    ordered.push(entry);
  };
  for (const entry of inventory.hosts) visit(entry, []);

  for (const entry of ordered) {
    const problem = problems.get(entry.name);
    if (problem) {
      summary.skipped.push({ name: entry.name, reason: problem });
      continue;
    }
    try {
      const credential = entry.identityFile ? await readKey(entry.identityFile) : undefined;
      const via = routes.get(entry.name);
      const input = {
        name: entry.name,
        address: entry.address,
        port: entry.port ?? 22,
        username: entry.username ?? defaultUser,
        credential,
        tags: entry.tags,
        via: via ?? undefined,
        createdBy: actor,
      };
      validateNewHost(input);
      const [existing] = await sql<Host[]>`select * from hosts where name = ${entry.name}`;
      if (!existing) {
        await addHost(sql, box, input);
        summary.added.push(entry.name);
      } else {
        if (via !== undefined) await setVia(sql, entry.name, via ?? undefined);
        await sql`
          update hosts set address = ${input.address}, port = ${input.port}, username = ${input.username},
            tags = tags || ${sql.json(entry.tags as never)}
          where id = ${existing.id}`;
        if (credential) await setCredential(sql, box, actor, entry.name, credential);
        summary.updated.push(entry.name);
      }
      if (via) summary.via[entry.name] = via;
    } catch (err) {
      summary.skipped.push({ name: entry.name, reason: `${entry.source}: ${(err as Error).message}` });
    }
  }
  await recordAudit(sql, {
    actor,
    action: "host.import",
    target: inventory.format,
    outcome: "imported",
    detail: { added: summary.added, updated: summary.updated, skipped: summary.skipped.map((s) => s.name), via: summary.via },
  });
  return summary;
}
