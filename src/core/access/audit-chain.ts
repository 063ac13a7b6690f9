import { createHash } from "node:crypto";
import { storable } from "../commands/input.js";
import { transaction, type Sql } from "../db.js";
import type { AuditAction } from "./audit-actions.js";

/**
 * Writing the tamper-evident audit chain: each row carries a hash over the
 * previous row's hash and its own canonical content (verified in audit.ts).
 */

/** One entry of the append-only audit log. */
export interface AuditEntry {
  /** Platform-prefixed identity, or `cli:<user>` / `system`. */
  readonly actor: string;
  readonly actorName?: string | undefined;
  /** Conversation reference where it happened, if in chat. */
  readonly channel?: string | undefined;
  /** What was attempted, from the one vocabulary (audit-actions.ts). */
  readonly action: AuditAction;
  readonly target?: string | undefined;
  /** `accepted`, `refused`, `succeeded`, `failed`, … */
  readonly outcome: string;
  /** Further facts; never secrets. */
  readonly detail?: Record<string, unknown>;
}

/** The fields a row's hash covers. */
export interface Hashed {
  readonly seq: number | null;
  readonly at: Date;
  readonly actor: string;
  readonly actorName: string | null;
  readonly channel: string | null;
  readonly action: string;
  readonly target: string | null;
  readonly outcome: string;
  readonly detail: Record<string, unknown>;
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
 * Appends entries to the chain and waits until they are in it. The chain has
 * one head, so appends take turns under a transaction-scoped advisory lock
 * (the chain never forks); to keep the turns few and short, everything
 * recorded meanwhile in this process, and every record still waiting in
 * `audit_pending` (see `appendAudits`), is chained together in one
 * transaction: while one batch is written, the next gathers.
 */
export async function recordAudits(sql: Sql, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await chainerFor(sql).add(entries);
}

/**
 * Records entries inside the caller's transaction, with the change they
 * record, without taking the chain's lock: they wait in `audit_pending`
 * until `chainPendingAudits` (which the caller starts once it has committed,
 * and which every later append does anyway) gives them their place.
 */
export async function appendAudits(tx: Sql, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const rows = entries.map(prepared).map((row) => ({ ...row, detail: tx.json(row.detail as never) }));
  for (let at = 0; at < rows.length; at += 1000) {
    await tx`insert into audit_pending ${tx(rows.slice(at, at + 1000) as never, "at", "actor", "actorName", "channel", "action", "target", "outcome", "detail")}`;
  }
}

/**
 * Records entries in one statement, without waiting for the chain's turn:
 * they wait in `audit_pending` and are given their place in the chain a
 * moment later, in the background (`chainSoon`).
 * For writers whose next step must not wait for other writers' turns, such
 * as a job about to start on its hosts.
 */
export async function noteAudits(sql: Sql, entries: readonly AuditEntry[]): Promise<void> {
  await appendAudits(sql, entries);
  chainSoon(sql);
}

/**
 * The same as a data-modifying CTE (`ap as (insert …)`), for a statement
 * that writes the change the entries record (see `insertNewJob`).
 */
export function pendingAuditsInsert(sql: Sql, entries: readonly AuditEntry[]) {
  const rows = entries.map(prepared).map((row) => ({ ...row, detail: sql.json(row.detail as never) }));
  return sql`ap as (insert into audit_pending ${sql(rows as never, "at", "actor", "actorName", "channel", "action", "target", "outcome", "detail")})`;
}

/** Gives every record waiting in `audit_pending` its place in the chain (a batch in progress takes them too). */
export function chainPendingAudits(sql: Sql): Promise<void> {
  return chainerFor(sql).add([]);
}

/**
 * How long records written with their change (`appendAudits`, `noteAudits`)
 * wait before they are chained in the background: everything written
 * meanwhile is chained in the same turn, so a burst of jobs takes a few turns
 * of the chain's lock a second instead of one or more per job.
 */
const CHAIN_SOON_MS = 100;

/**
 * Chains the waiting records within `CHAIN_SOON_MS`, in the background (a
 * failed chaining leaves them to the next one, and every process chains what
 * waits when it starts and at each anchor).
 */
export function chainSoon(sql: Sql): void {
  chainerFor(sql).soon();
}

type Unchained = Omit<Hashed, "seq">;

function prepared(entry: AuditEntry): Unchained {
  return {
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
}

/** Takes the chain's lock, then appends what waits in `audit_pending` and `entries`, in that order. */
async function chain(tx: Sql, entries: readonly Unchained[]): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtext('testum:audit'))`;
  // Both read under the lock, sent together (one round trip).
  const [waiting, [last]] = await Promise.all([
    tx<Array<Unchained & { id: number }>>`delete from audit_pending returning *`,
    tx<{ seq: number; hash: string }[]>`select seq, hash from audit where seq is not null order by seq desc limit 1`,
  ]);
  const all = [...waiting.sort((a, b) => a.id - b.id).map(({ id: _id, ...row }) => row), ...entries];
  if (all.length === 0) return;
  let seq = last?.seq ?? 0;
  let prevHash = last?.hash ?? GENESIS;
  const rows = all.map((entry) => {
    const row: Hashed = { ...entry, seq: ++seq };
    const hash = rowHash(prevHash, row);
    const stored = { ...row, detail: tx.json(row.detail as never), prevHash, hash };
    prevHash = hash;
    return stored;
  });
  // One statement per thousand (a job on 500 hosts audits each host's outcome).
  for (let at = 0; at < rows.length; at += 1000) {
    await tx`insert into audit ${tx(rows.slice(at, at + 1000) as never, "seq", "at", "actor", "actorName", "channel", "action", "target", "outcome", "detail", "prevHash", "hash")}`;
  }
}

/** One chain writer per connection pool. */
const chainers = new WeakMap<Sql, { add(entries: readonly AuditEntry[]): Promise<void>; soon(): void }>();

interface Waiting {
  readonly entries: readonly Unchained[];
  resolve(): void;
  reject(err: unknown): void;
}

function chainerFor(sql: Sql) {
  let chainer = chainers.get(sql);
  if (!chainer) chainers.set(sql, (chainer = createChainer(sql)));
  return chainer;
}

function createChainer(sql: Sql) {
  let waiting: Waiting[] = [];
  let writing = false;
  let soonTimer: NodeJS.Timeout | undefined;
  async function drain(): Promise<void> {
    writing = true;
    try {
      while (waiting.length > 0) {
        const batch = waiting;
        waiting = [];
        try {
          await transaction(sql, (tx) =>
            chain(
              tx,
              batch.flatMap((w) => w.entries),
            ),
          );
          for (const w of batch) w.resolve();
        } catch (err) {
          if (batch.length === 1) {
            batch[0]!.reject(err);
            continue;
          }
          // One caller's entries must not fail another's: each is tried on its own.
          for (const w of batch) await transaction(sql, (tx) => chain(tx, w.entries)).then(w.resolve, w.reject);
        }
      }
    } finally {
      writing = false;
    }
  }
  function add(entries: readonly AuditEntry[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      waiting.push({ entries: entries.map(prepared), resolve, reject });
      if (!writing) void drain();
    });
  }
  return {
    add,
    soon(): void {
      if (soonTimer) return;
      soonTimer = setTimeout(() => {
        soonTimer = undefined;
        add([]).catch(() => {});
      }, CHAIN_SOON_MS);
      // A process that exits meanwhile leaves them to the next chaining (at the latest, the next process's start).
      soonTimer.unref();
    },
  };
}

export async function recordAudit(sql: Sql, entry: AuditEntry): Promise<void> {
  await recordAudits(sql, [entry]);
}
