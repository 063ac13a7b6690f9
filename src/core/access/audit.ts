import { formerNames } from "./audit-actions.js";
import { checkAnchors } from "./audit-anchor.js";
import { GENESIS, rowHash, type Hashed } from "./audit-chain.js";
import type { Sql } from "../db.js";

export { appendAudits, canonicalJson, chainPendingAudits, chainSoon, noteAudits, pendingAuditsInsert, recordAudit, recordAudits, rowHash, type AuditEntry } from "./audit-chain.js";

/** A record as stored: what its hash covers, and its place in the chain. */
export interface AuditRow extends Hashed {
  readonly id: number;
  readonly prevHash: string | null;
  readonly hash: string | null;
}

export interface AuditFilter {
  readonly limit: number;
  readonly actor?: string | undefined;
  readonly target?: string | undefined;
  readonly action?: string | undefined;
  readonly since?: Date | undefined;
}

/** The job an audit entry is about, when it names one (job.*, approval.*, schedule.fire …). */
export function auditJob(detail: Readonly<Record<string, unknown>>): number | undefined {
  return typeof detail.job === "number" && Number.isSafeInteger(detail.job) ? detail.job : undefined;
}

/** The last `limit` entries matching the filter, oldest first. */
export async function listAudit(sql: Sql, filter: AuditFilter): Promise<AuditRow[]> {
  const rows = await sql<AuditRow[]>`
    select * from audit
    where true
      ${filter.actor ? sql`and (actor = ${filter.actor} or actor_name = ${filter.actor})` : sql``}
      ${filter.target ? sql`and target = ${filter.target}` : sql``}
      ${filter.action ? sql`and (action in ${sql([filter.action, ...formerNames(filter.action)])} or action like ${filter.action + ".%"})` : sql``}
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
