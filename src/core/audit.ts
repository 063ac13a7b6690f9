import type { Sql } from "./db.js";

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

export interface AuditRow extends Required<Omit<AuditEntry, "detail">> {
  readonly id: number;
  readonly at: Date;
  readonly detail: Record<string, unknown>;
}

export async function recordAudit(sql: Sql, entry: AuditEntry): Promise<void> {
  await sql`
    insert into audit (actor, actor_name, channel, action, target, outcome, detail)
    values (${entry.actor}, ${entry.actorName ?? null}, ${entry.channel ?? null}, ${entry.action},
            ${entry.target ?? null}, ${entry.outcome}, ${sql.json((entry.detail ?? {}) as never)})`;
}

export async function listAudit(sql: Sql, options: { limit: number }): Promise<AuditRow[]> {
  const rows = await sql<AuditRow[]>`
    select id, at, actor, actor_name, channel, action, target, outcome, detail
    from audit order by id desc limit ${options.limit}`;
  return rows.reverse();
}
