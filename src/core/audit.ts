import { createHash } from "node:crypto";
import { storable } from "./input.js";
import { transaction, type Sql } from "./db.js";
import { checkAnchors } from "./audit-anchor.js";

/** One entry of the append-only audit log. */
export interface AuditEntry {
  /** Platform-prefixed identity, or `cli:<user>` / `system`. */
  readonly actor: string;
  readonly actorName?: string | undefined;
  /** Conversation reference where it happened, if in chat. */
  readonly channel?: string | undefined;
  /** What was attempted, e.g. `job.request`, `host.add`, `host_key.mismatch`. */
  readonly action: string;
  readonly target?: string | undefined;
  /** `accepted`, `refused`, `succeeded`, `failed`, … */
  readonly outcome: string;
  /** Further facts; never secrets. */
  readonly detail?: Record<string, unknown>;
}

export interface AuditRow {
  readonly id: number;
  readonly seq: number | null;
  readonly at: Date;
  readonly actor: string;
  readonly actorName: string | null;
  readonly channel: string | null;
  readonly action: string;
  readonly target: string | null;
  readonly outcome: string;
  readonly detail: Record<string, unknown>;
  readonly prevHash: string | null;
  readonly hash: string | null;
}

/** The hash the first row of the chain links to. */
export const GENESIS = "0".repeat(64);

/** JSON with object keys sorted at every level, so the same content always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value instanceof Date ? value.toISOString() : (value ?? null));
}

type Hashed = Pick<AuditRow, "seq" | "at" | "actor" | "actorName" | "channel" | "action" | "target" | "outcome" | "detail">;

export function rowHash(prevHash: string, row: Hashed): string {
  const content = canonicalJson({
    seq: row.seq,
    at: row.at.toISOString(),
    actor: row.actor,
    actorName: row.actorName,
    channel: row.channel,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    detail: row.detail,
  });
  return createHash("sha256").update(prevHash).update("\n").update(content).digest("hex");
}

/**
 * Appends entries, chained to the previous ones. Appends are serialised by a
 * transaction-scoped advisory lock so the chain never forks; several entries
 * share one lock and one transaction.
 */
export async function recordAudits(sql: Sql, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await transaction(sql, (tx) => appendAudits(tx, entries));
}

/** The same, inside the caller's transaction (with the change it records). */
export async function appendAudits(tx: Sql, entries: readonly AuditEntry[]): Promise<void> {
  {
    await tx`select pg_advisory_xact_lock(hashtext('testum:audit'))`;
    const [last] = await tx<{ seq: number; hash: string }[]>`select seq, hash from audit where seq is not null order by seq desc limit 1`;
    let seq = last?.seq ?? 0;
    let prevHash = last?.hash ?? GENESIS;
    const rows = entries.map((entry) => {
      const row: Hashed = {
        seq: ++seq,
        // Millisecond precision survives the round trip through timestamptz exactly.
        at: new Date(),
        actor: entry.actor,
        actorName: entry.actorName == null ? null : storable(entry.actorName),
        channel: entry.channel ?? null,
        action: entry.action,
        target: entry.target ?? null,
        outcome: entry.outcome,
        // Text cut short elsewhere can end in half a surrogate pair, which Postgres refuses: store it as U+FFFD.
        detail: JSON.parse(JSON.stringify(entry.detail ?? {}, (_key, value: unknown) => (typeof value === "string" ? storable(value) : value))) as Record<string, unknown>,
      };
      const hash = rowHash(prevHash, row);
      const stored = { ...row, detail: tx.json(row.detail as never), prevHash, hash };
      prevHash = hash;
      return stored;
    });
    // One statement for the lot (a job on 500 hosts audits each host's outcome).
    for (let at = 0; at < rows.length; at += 1000) {
      await tx`insert into audit ${tx(rows.slice(at, at + 1000) as never, "seq", "at", "actor", "actorName", "channel", "action", "target", "outcome", "detail", "prevHash", "hash")}`;
    }
  }
}

export async function recordAudit(sql: Sql, entry: AuditEntry): Promise<void> {
  await recordAudits(sql, [entry]);
}

export interface AuditFilter {
  readonly limit: number;
  readonly actor?: string | undefined;
  readonly target?: string | undefined;
  readonly action?: string | undefined;
  readonly since?: Date | undefined;
}

/** The last `limit` entries matching the filter, oldest first. */
export async function listAudit(sql: Sql, filter: AuditFilter): Promise<AuditRow[]> {
  const rows = await sql<AuditRow[]>`
    select * from audit
    where true
      ${filter.actor ? sql`and (actor = ${filter.actor} or actor_name = ${filter.actor})` : sql``}
      ${filter.target ? sql`and target = ${filter.target}` : sql``}
      ${filter.action ? sql`and (action = ${filter.action} or action like ${filter.action + ".%"})` : sql``}
      ${filter.since ? sql`and at >= ${filter.since}` : sql``}
    order by id desc limit ${filter.limit}`;
  return rows.reverse();
}

export type Verification =
  | { readonly ok: true; readonly rows: number; readonly unchained: number; readonly anchors?: number; readonly lastAnchorSeq?: number | null }
  | { readonly ok: false; readonly row: number; readonly problem: "changed" | "removed" | "inserted"; readonly message: string };

/**
 * Walks the chain in insertion order and names the first row that was
 * changed, removed or inserted. Rows written before the chain existed are
 * counted, not checked.
 */
export async function verifyAudit(sql: Sql, anchorKey?: Buffer): Promise<Verification> {
  const rows = await sql<AuditRow[]>`select * from audit order by id`;
  let unchained = 0;
  let expectedSeq = 1;
  let prev = GENESIS;
  let checked = 0;
  const hashes = new Map<number, string>();
  for (const row of rows) {
    if (row.seq === null) {
      if (checked === 0) {
        unchained += 1;
        continue;
      }
      return { ok: false, row: row.id, problem: "inserted", message: `audit row with id ${row.id} was inserted: it carries no place in the chain` };
    }
    const contentOk = row.hash === rowHash(row.prevHash ?? "", row);
    if (row.seq < expectedSeq) {
      return { ok: false, row: row.seq, problem: "inserted", message: `audit row ${row.seq} was inserted: row ${row.seq} already came earlier` };
    }
    if (row.seq > expectedSeq) {
      const gap = row.seq - expectedSeq === 1 ? `row ${expectedSeq} was` : `rows ${expectedSeq} to ${row.seq - 1} were`;
      return { ok: false, row: expectedSeq, problem: "removed", message: `audit ${gap} removed: the chain jumps from row ${expectedSeq - 1} to row ${row.seq}` };
    }
    if (row.prevHash !== prev) {
      return { ok: false, row: row.seq, problem: "inserted", message: `audit row ${row.seq} was inserted: it does not link to row ${row.seq - 1}` };
    }
    if (!contentOk) {
      return { ok: false, row: row.seq, problem: "changed", message: `audit row ${row.seq} was changed: its content no longer matches its hash` };
    }
    prev = row.hash!;
    hashes.set(row.seq, row.hash!);
    expectedSeq = row.seq + 1;
    checked += 1;
  }
  if (!anchorKey) return { ok: true, rows: checked, unchained };
  const anchors = await checkAnchors(sql, anchorKey, hashes, expectedSeq - 1);
  if (!anchors.ok) return { ok: false, row: expectedSeq, problem: "removed", message: anchors.message };
  return { ok: true, rows: checked, unchained, anchors: anchors.anchors, lastAnchorSeq: anchors.lastSeq };
}
