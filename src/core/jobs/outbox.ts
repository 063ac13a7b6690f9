import type { View } from "../chat/chat.js";
import { platformOf } from "../chat/chat.js";
import type { Sql } from "../db.js";

/**
 * The chat messages a job owns, as rows of desired state (table
 * job_messages). Writers only record the newest view; `startDelivery` (delivery.ts) runs in
 * every testum process and makes chat show it. Chat never holds up a job:
 * whatever a platform answers, the job's own state is already written.
 * A schedule owns messages the same way (its approval request, notes about
 * its fires): one table, one delivery loop.
 */

/** parent (in the channel), live (output), approval (the request), note:<name> (one-off notes in the thread). */
export type Slot = "parent" | "live" | "approval" | `note:${string}`;

export interface MessageRow {
  readonly id: number;
  readonly jobId: number | null;
  readonly scheduleId: number | null;
  readonly slot: Slot;
  readonly platform: string;
  readonly conversation: string;
  readonly inThreadOf: number | null;
  readonly title: string | null;
  readonly view: View;
  readonly version: number;
  readonly deliveredVersion: number;
  readonly stateAt: Date;
  readonly message: string | null;
  readonly thread: string | null;
  readonly failures: number;
  readonly givenUp: boolean;
}

/** A new message of a job or a schedule: the thread start (parent), or a message in the parent's thread. */
export interface NewMessage {
  readonly slot: Slot;
  readonly view: View;
  /** For the parent: the thread's title. */
  readonly title?: string;
  /** A message of its own in the channel rather than in the parent's thread. */
  readonly startsThread?: boolean;
}

/**
 * Records the messages a job owns: the parent first, then the messages in its
 * thread. Runs in the caller's transaction (with the job's row). A slot the
 * job already has is left as it is. (A schedule's messages: setScheduleMessage.)
 */
export async function addMessages(tx: Sql, jobId: number, conversation: string, messages: readonly NewMessage[]): Promise<void> {
  const platform = platformOf(conversation);
  const row = (m: NewMessage, inThreadOf: number | null) => ({
    jobId,
    slot: m.slot,
    platform,
    conversation,
    inThreadOf,
    title: m.title ?? null,
    view: tx.json(m.view as never),
  });
  const columns = ["jobId", "slot", "platform", "conversation", "inThreadOf", "title", "view"] as const;
  const parent = messages.find((m) => m.slot === "parent");
  let parentId: number | null = null;
  if (parent) {
    const rows: Array<{ id: number }> = await tx`insert into job_messages ${tx(row(parent, null) as never, ...columns)} on conflict do nothing returning id`;
    parentId = rows[0]?.id ?? null;
  }
  // The rest in one statement.
  const rest = messages.filter((m) => m !== parent).map((m) => row(m, m.startsThread ? null : parentId));
  if (rest.length > 0) await tx`insert into job_messages ${tx(rest as never, ...columns)} on conflict do nothing`;
}

/**
 * The same for a job being written (`insertNewJob`): data-modifying CTEs
 * that store its messages with its row, in one statement.
 */
export function newJobMessages(sql: Sql, conversation: string, messages: readonly NewMessage[]) {
  const platform = platformOf(conversation);
  const parent = messages.find((m) => m.slot === "parent");
  const rest = messages.filter((m) => m !== parent).map((m) => ({ slot: m.slot, title: m.title ?? null, view: m.view, starts: m.startsThread === true }));
  const ctes = [];
  if (parent) {
    ctes.push(sql`
      mp as (
        insert into job_messages (job_id, slot, platform, conversation, in_thread_of, title, view)
        select j.id, ${parent.slot}, ${platform}, ${conversation}, null, ${parent.title ?? null}, ${sql.json(parent.view as never)} from j
        returning id
      )`);
  }
  if (rest.length > 0) {
    // Joined with the parent's insert, so the parent gets the lower id (delivery goes by id).
    ctes.push(sql`
      mr as (
        insert into job_messages (job_id, slot, platform, conversation, in_thread_of, title, view)
        select j.id, r.slot, ${platform}, ${conversation}, ${parent ? sql`case when r.starts then null else mp.id end` : sql`null::bigint`}, r.title, r.view
        from j${parent ? sql`, mp` : sql``}, jsonb_to_recordset(${sql.json(rest as never)}) as r (slot text, title text, view jsonb, starts boolean)
      )`);
  }
  return ctes;
}

/**
 * Adds a message to the thread of a job that already has a parent (a note
 * about a lost job, say). Does nothing for a job without chat messages.
 */
export async function addThreadMessage(sql: Sql, jobId: number, slot: Slot, view: View): Promise<void> {
  await sql`
    insert into job_messages (job_id, slot, platform, conversation, in_thread_of, view)
    select job_id, ${slot}, platform, conversation, id, ${sql.json(view as never)}
    from job_messages where job_id = ${jobId} and slot = 'parent'
    on conflict (job_id, slot) do update set view = excluded.view, version = job_messages.version + 1, state_at = now(), given_up = false, failures = 0`;
}

/**
 * Sets the newest view of some of a job's messages (those it has). A view
 * equal to the one recorded changes nothing.
 */
export async function setViews(sql: Sql, jobId: number, views: Partial<Record<Slot, View>>, final = false): Promise<void> {
  const entries = Object.entries(views).filter((e): e is [Slot, View] => e[1] !== undefined);
  if (entries.length === 0) return;
  const values = entries.map(([slot, view]) => [slot, JSON.stringify(view)]);
  await sql`
    update job_messages m set view = v.view::jsonb, version = m.version + 1, state_at = now(), final = ${final}
    from (values ${sql(values as never)}) as v (slot, view)
    where m.job_id = ${jobId} and m.slot = v.slot and m.view <> v.view::jsonb`;
}

/**
 * The newest view of a message a schedule owns, in its channel (its approval
 * request, say): recorded when new, a new version when it changed. A message
 * chat already shows (`message`, posted before the schedule's messages were
 * kept here) is edited rather than posted again.
 */
export async function setScheduleMessage(
  sql: Sql,
  scheduleId: number,
  conversation: string,
  slot: Slot,
  view: View,
  options: { readonly title?: string; readonly message?: string | null; readonly final?: boolean } = {},
): Promise<void> {
  const final = options.final ?? false;
  await sql`
    insert into job_messages (schedule_id, slot, platform, conversation, title, view, message, final)
    values (${scheduleId}, ${slot}, ${platformOf(conversation)}, ${conversation}, ${options.title ?? null}, ${sql.json(view as never)},
            ${options.message ?? null}, ${final})
    on conflict (schedule_id, slot) do update set view = excluded.view, version = job_messages.version + 1, state_at = now(), final = excluded.final,
      given_up = false, failures = 0
    where job_messages.view <> excluded.view`;
}

/** Pending deliveries per platform (messages whose newest view chat does not show yet), for metrics and logs. */
export async function undelivered(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ platform: string; count: number }[]>`
    select platform, count(*)::int as count from job_messages
    where delivered_version < version and not given_up group by platform`;
  return Object.fromEntries(rows.map((r) => [r.platform, r.count]));
}

/**
 * Gives back the messages these delivery owners hold, for any process to take
 * at once instead of once their leases run out (minutes): a process's own at
 * its stop, and a lost worker's when the reaper marks its jobs lost.
 */
export async function releaseDeliveriesOf(sql: Sql, owners: readonly string[]): Promise<number> {
  if (owners.length === 0) return 0;
  const released = await sql`update job_messages set lease_owner = null, lease_until = null where lease_owner in ${sql(owners)}`;
  return released.count;
}
