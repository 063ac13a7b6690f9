import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import type { Sql } from "../db.js";
import { chainPendingAudits } from "./audit-chain.js";
import type { Logger } from "../ports.js";

/**
 * Anchors of the audit chain: the newest row's `seq` and `hash`, signed with
 * a key derived from the master key. The chain alone cannot show rows cut
 * from its end; an anchor says the chain reached at least this far, and only
 * the master key's holder can make one.
 */
export interface AuditAnchor {
  readonly id: number;
  readonly seq: number;
  readonly hash: string;
  readonly at: Date;
  readonly mac: string;
}

/** The anchor key: HKDF-SHA256 of the master key, for this purpose only. */
export function anchorKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), "testum audit anchor v1", 32));
}

function macOf(key: Buffer, seq: number, hash: string, at: Date): string {
  return createHmac("sha256", key).update(`${seq}\n${hash}\n${at.toISOString()}`).digest("hex");
}

/** Anchors the chain's head, unless the newest anchor already covers it. Returns the anchor written, if any. */
export async function anchorAudit(sql: Sql, key: Buffer): Promise<AuditAnchor | undefined> {
  // What was recorded and still waits for its place in the chain is anchored too.
  await chainPendingAudits(sql);
  const [head] = await sql<{ seq: number; hash: string }[]>`select seq, hash from audit where seq is not null order by seq desc limit 1`;
  if (!head) return undefined;
  const [last] = await sql<{ seq: number }[]>`select seq from audit_anchors order by id desc limit 1`;
  if (last && last.seq >= head.seq) return undefined;
  // Millisecond precision survives timestamptz exactly.
  const at = new Date();
  const [anchor] = await sql<AuditAnchor[]>`
    insert into audit_anchors (seq, hash, at, mac) values (${head.seq}, ${head.hash}, ${at}, ${macOf(key, head.seq, head.hash, at)}) returning *`;
  return anchor;
}

export type AnchorCheck = { readonly ok: true; readonly anchors: number; readonly lastSeq: number | null } | { readonly ok: false; readonly message: string };

/**
 * Checks every anchor against the chain: its signature, and that the chain
 * still holds its row with its hash. `headSeq` is the newest row's seq.
 */
export async function checkAnchors(sql: Sql, key: Buffer, rows: ReadonlyMap<number, string>, headSeq: number): Promise<AnchorCheck> {
  const anchors = await sql<AuditAnchor[]>`select * from audit_anchors order by id`;
  for (const anchor of anchors) {
    const expected = Buffer.from(macOf(key, anchor.seq, anchor.hash, anchor.at), "hex");
    const given = Buffer.from(anchor.mac, "hex");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, message: `audit anchor ${anchor.id} (row ${anchor.seq}, ${anchor.at.toISOString()}) is not signed with this master key: it was forged or changed` };
    }
    if (anchor.seq > headSeq) {
      return { ok: false, message: `audit rows after row ${headSeq} were removed: an anchor of ${anchor.at.toISOString()} shows the log reached row ${anchor.seq}` };
    }
    if (rows.get(anchor.seq) !== anchor.hash) {
      return { ok: false, message: `audit row ${anchor.seq} is not the row anchored at ${anchor.at.toISOString()}: the chain was rewritten` };
    }
  }
  return { ok: true, anchors: anchors.length, lastSeq: anchors.at(-1)?.seq ?? null };
}

/** Anchors every `everyMs` and once more at stop; failures are logged, never thrown. */
export function startAuditAnchors(deps: { sql: Sql; key: Buffer; log: Logger; everyMs: number }): { stop(): Promise<void> } {
  const anchor = () => anchorAudit(deps.sql, deps.key).catch((err: unknown) => void deps.log.warn({ err }, "could not anchor the audit log"));
  // Records a stopped process left waiting take their place now.
  void chainPendingAudits(deps.sql).catch((err: unknown) => void deps.log.warn({ err }, "could not chain the waiting audit records"));
  const timer = setInterval(() => void anchor(), deps.everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await anchor();
    },
  };
}
