import { transaction, type Sql } from "../db.js";
import { TestumError } from "../errors.js";
import { HOST_NAME } from "../commands/grammar.js";
import { msg } from "../chat/i18n.js";
import type { SecretBox } from "./secret-box.js";
import { deleteSecret, storeSecret, type Credential } from "./secrets.js";

export type AuthMethod = "key" | "password" | "identity";

export interface Host {
  readonly id: number;
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly username: string;
  readonly authMethod: AuthMethod;
  readonly secretId: string | null;
  readonly hostKeyFingerprint: string | null;
  readonly hostKeyPinnedAt: Date | null;
  readonly tags: Readonly<Record<string, string>>;
  /** The bastion testum reaches this host through; null: directly. */
  readonly viaHostId: number | null;
  readonly lastSeenAt: Date | null;
  readonly createdAt: Date;
  readonly createdBy: string;
}

export const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export interface NewHost {
  readonly name: string;
  readonly address: string;
  readonly port?: number | undefined;
  readonly username: string;
  /** A private key or password; none means testum's own identity key. */
  readonly credential?: Credential | undefined;
  readonly fingerprint?: string | undefined;
  readonly tags?: Readonly<Record<string, string>> | undefined;
  /** Name of the registered host to reach this one through (a bastion). */
  readonly via?: string | undefined;
  readonly createdBy: string;
}

/** Most bastions between testum and a host (a chain longer than this is refused). */
export const MAX_HOPS = 8;

export function validateHostName(name: string): void {
  if (!HOST_NAME.test(name)) {
    throw new TestumError("invalid_host", msg("error.invalid_host_name", { name }));
  }
}

export function validateNewHost(input: NewHost): void {
  validateHostName(input.name);
  if (!/^[A-Za-z0-9.:_-]{1,253}$/.test(input.address)) {
    throw new TestumError("invalid_host", msg("hosts.bad_address", { address: input.address }));
  }
  const port = input.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TestumError("invalid_host", msg("hosts.bad_port", { port: String(input.port) }));
  }
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]{0,31}$/.test(input.username)) {
    throw new TestumError("invalid_host", msg("hosts.bad_user", { user: input.username }));
  }
  if (input.fingerprint !== undefined && !FINGERPRINT.test(input.fingerprint)) {
    throw new TestumError("invalid_host", msg("hosts.bad_fingerprint", { fingerprint: input.fingerprint }));
  }
}

/** Adds a host; its credential is sealed under the master key in the same transaction. */
export async function addHost(sql: Sql, box: SecretBox, input: NewHost): Promise<Host> {
  validateNewHost(input);
  return transaction(sql, async (tx) => {
    const [existing] = await tx`select 1 from hosts where name = ${input.name}`;
    if (existing) throw new TestumError("host_exists", msg("hosts.exists", { name: input.name }));
    const via = input.via === undefined ? null : await bastionFor(tx as unknown as Sql, input.name, input.via);
    const secretId = input.credential ? await storeSecret(tx as unknown as Sql, box, input.credential) : null;
    const method: AuthMethod = input.credential?.type ?? "identity";
    const [host] = await tx<Host[]>`
      insert into hosts (name, address, port, username, auth_method, secret_id, host_key_fingerprint,
                         host_key_pinned_at, tags, via_host_id, created_by)
      values (${input.name}, ${input.address}, ${input.port ?? 22}, ${input.username}, ${method}, ${secretId},
              ${input.fingerprint ?? null}, ${input.fingerprint ? new Date() : null},
              ${tx.json((input.tags ?? {}) as never)}, ${via?.id ?? null}, ${input.createdBy})
      returning *`;
    return host!;
  });
}

export async function listHosts(sql: Sql): Promise<Host[]> {
  return sql<Host[]>`select * from hosts order by name`;
}

/** The hosts with these names (those that exist), in name order. */
export async function hostsNamed(sql: Sql, names: readonly string[]): Promise<Host[]> {
  return sql<Host[]>`select * from hosts where name in ${sql(names)} order by name`;
}

/** The hosts whose names start with `prefix`, in name order. */
export async function hostsStartingWith(sql: Sql, prefix: string): Promise<Host[]> {
  return sql<Host[]>`select * from hosts where starts_with(name, ${prefix}) order by name`;
}

/** The hosts carrying every one of these tags, in name order. */
export async function hostsTagged(sql: Sql, tags: ReadonlyArray<readonly [string, string]>): Promise<Host[]> {
  const carries = tags.map(([key, value]) => sql`tags @> ${sql.json({ [key]: value })}`);
  return sql<Host[]>`select * from hosts where ${carries.reduce((all, one) => sql`${all} and ${one}`)} order by name`;
}

export async function findHost(sql: Sql, name: string): Promise<Host | undefined> {
  const [host] = await sql<Host[]>`select * from hosts where name = ${name}`;
  return host;
}

export async function getHost(sql: Sql, name: string): Promise<Host> {
  const host = await findHost(sql, name);
  if (!host) throw new TestumError("unknown_host", msg("hosts.unknown", { name }));
  return host;
}

export async function getHostById(sql: Sql, id: number): Promise<Host | undefined> {
  const [host] = await sql<Host[]>`select * from hosts where id = ${id}`;
  return host;
}

export async function getHostsById(sql: Sql, ids: readonly number[]): Promise<Host[]> {
  if (ids.length === 0) return [];
  return sql<Host[]>`select * from hosts where id in ${sql(ids)}`;
}

/** Removes a host and its stored credential; a bastion others go through stays. */
export async function removeHost(sql: Sql, name: string): Promise<Host> {
  return transaction(sql, async (tx) => {
    await lockRoutes(tx as unknown as Sql);
    const behind = await tx<{ name: string }[]>`
      select h.name from hosts h join hosts b on h.via_host_id = b.id where b.name = ${name} order by h.name`;
    if (behind.length > 0) {
      throw new TestumError("conflict", msg("hosts.bastion_in_use", { name, hosts: behind.map((h) => h.name).join(", "), first: behind[0]!.name }));
    }
    const [host] = await tx<Host[]>`delete from hosts where name = ${name} returning *`;
    if (!host) throw new TestumError("unknown_host", msg("hosts.unknown_short", { name }));
    if (host.secretId) await deleteSecret(tx as unknown as Sql, host.secretId);
    return host;
  });
}

/**
 * Pins a host key on first successful contact. Returns false when another
 * fingerprint was pinned meanwhile (the caller must then refuse).
 */
export async function pinHostKey(sql: Sql, hostId: number, fingerprint: string): Promise<boolean> {
  const rows = await sql`
    update hosts set host_key_fingerprint = ${fingerprint}, host_key_pinned_at = now()
    where id = ${hostId} and (host_key_fingerprint is null or host_key_fingerprint = ${fingerprint})
    returning id`;
  return rows.length === 1;
}

/** Notes that these hosts were reached just now: one statement for a whole fan-out. */
export async function markHostsSeen(sql: Sql, hostIds: readonly number[]): Promise<void> {
  if (hostIds.length === 0) return;
  await sql`update hosts set last_seen_at = now() where id in ${sql([...new Set(hostIds)])}`;
}

export async function updateHostAuth(sql: Sql, hostId: number, method: AuthMethod, secretId: string | null): Promise<void> {
  await sql`update hosts set auth_method = ${method}, secret_id = ${secretId} where id = ${hostId}`;
}

/** Changes to which host goes through which bastion wait for each other, so no two of them make a loop together. */
async function lockRoutes(sql: Sql): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('testum.hosts.via'))`;
}

/**
 * The bastion named `via` for host `name`, checked: it exists, it is not the
 * host itself, the route through it never comes back to the host (`a via b
 * via a`), and it is at most MAX_HOPS long. Call inside a transaction.
 */
async function bastionFor(sql: Sql, name: string, via: string): Promise<Host> {
  await lockRoutes(sql);
  if (via.includes(",")) throw new TestumError("invalid_input", msg("hosts.via_one", { via }));
  validateHostName(via);
  const bastion = await findHost(sql, via);
  if (!bastion) throw new TestumError("unknown_host", msg("hosts.via_unknown", { via }));
  if (bastion.name === name) throw new TestumError("invalid_input", msg("hosts.via_loop", { name, route: `${name} → ${name}` }));
  const route = [name, bastion.name];
  const seen = new Set([bastion.id]);
  for (let next = bastion.viaHostId; next !== null; ) {
    const hop = await getHostById(sql, next);
    if (!hop) break;
    route.push(hop.name);
    if (hop.name === name || seen.has(hop.id)) throw new TestumError("invalid_input", msg("hosts.via_loop", { name, route: route.join(" → ") }));
    seen.add(hop.id);
    next = hop.viaHostId;
  }
  if (route.length - 1 > MAX_HOPS) throw new TestumError("invalid_input", msg("hosts.via_too_long", { name, max: MAX_HOPS }));
  return bastion;
}

/** Sends host `name` through bastion `via`, or directly (undefined). */
export async function setVia(sql: Sql, name: string, via: string | undefined): Promise<{ host: Host; old: string | null }> {
  return transaction(sql, async (tx) => {
    const db = tx as unknown as Sql;
    const host = await findHost(db, name);
    if (!host) throw new TestumError("unknown_host", msg("hosts.unknown", { name }));
    const old = host.viaHostId === null ? null : ((await getHostById(db, host.viaHostId))?.name ?? null);
    const bastion = via === undefined ? undefined : await bastionFor(db, name, via);
    if (via === undefined) await lockRoutes(db);
    const [updated] = await tx<Host[]>`update hosts set via_host_id = ${bastion?.id ?? null} where id = ${host.id} returning *`;
    return { host: updated!, old };
  });
}

/** Names of hosts by id, to show which bastion each host goes through. */
export function bastionNames(hosts: readonly Host[]): (host: Host) => string | null {
  const names = new Map(hosts.map((h) => [h.id, h.name]));
  return (host) => (host.viaHostId === null ? null : (names.get(host.viaHostId) ?? null));
}
