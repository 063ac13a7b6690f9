import type { ChatDirectory, View } from "../chat/chat.js";
import { within } from "../concurrency.js";
import type { Sql } from "../db.js";
import { ChatUnreachableError, isTestumError, RateLimitedError } from "../errors.js";
import { translate } from "../chat/i18n.js";
import type { Logger } from "../ports.js";
import { formatClock } from "../chat/time.js";
import { releaseDeliveriesOf, undelivered, type MessageRow } from "./outbox.js";

/**
 * The delivery loop: makes chat show the newest view of every message the
 * outbox (outbox.ts) records, whatever the platform answers.
 */

export interface DeliveryOptions {
  readonly sql: Sql;
  readonly chat: ChatDirectory;
  readonly log: Logger;
  /** Names this process as the holder of the rows it delivers. */
  readonly owner: string;
  /** How often the table is looked at when nothing nudged the loop (default 250 ms). */
  readonly pollMs?: number;
  /** At stop, how long a last pass may try to deliver what is still pending (default 4 s). */
  readonly flushMs?: number;
  /** Requests in flight at once from this process, over all messages (default 16). */
  readonly concurrency?: number;
  /** Longest a chat call may take before it counts as failed (default 30 s). */
  readonly callTimeoutMs?: number;
  /**
   * How long a claimed message is held (default the call's limit plus 15 s); renewed while it
   * waits its turn behind the posts before it. A process that dies frees its messages this long after.
   */
  readonly leaseMs?: number;
  /** A live message delivered this far behind its state says so (default 5 s). */
  readonly lagNoteMs?: number;
  /** Called after each pass with the pending counts, at most every `reportEveryMs`. */
  readonly onBacklog?: (pending: Record<string, number>) => void;
  readonly reportEveryMs?: number;
}

/** A refusal (not a rate limit, not an outage) is tried this many times, then given up. */
const MAX_REFUSALS = 8;
/** Longest pause between two tries of a message chat could not take. */
const MAX_BACKOFF_MS = 30_000;

interface Claimed extends MessageRow {
  readonly parentThread: string | null;
}

/** Names a message's owner in logs. */
function ownerOf(row: MessageRow): { job: number } | { schedule: number | null } {
  return row.jobId !== null ? { job: row.jobId } : { schedule: row.scheduleId };
}

/**
 * Posts and edits every job message until chat shows its newest view, in
 * every process: rows are taken with FOR UPDATE SKIP LOCKED and held by a
 * lease, so one process at a time sends a message, with one request in
 * flight. Edits of a message not posted yet fold into its first post; a
 * message in a thread waits for the thread. Rate limits are waited out as
 * long as the platform (or the shared budget) says, outages and 5xx are
 * retried with backoff for as long as they last, and no call is made inside
 * a database transaction.
 */
export function startDelivery(options: DeliveryOptions): { nudge(): void; stop(): Promise<void> } {
  const { sql, chat, log, owner } = options;
  const limit = options.concurrency ?? 16;
  const inFlight = new Map<number, Promise<unknown>>();
  let stopped = false;
  let passing: Promise<void> | undefined;
  let again = false;
  let lastReport = 0;
  // Only messages of the platforms this process can reach: a process without (say) Slack's
  // credentials leaves Slack's messages to the processes that have them, instead of taking them
  // and failing each, which kept them waiting out backoffs the others then honoured too.
  const platforms = chat.platforms();
  const callTimeoutMs = options.callTimeoutMs ?? 30_000;
  const leaseSecs = (options.leaseMs ?? callTimeoutMs + 15_000) / 1000;

  async function claim(n: number): Promise<Claimed[]> {
    if (platforms.length === 0) return [];
    return sql<Claimed[]>`
      with c as (
        select m.id from job_messages m
          left join job_messages p on p.id = m.in_thread_of
        where m.platform in ${sql(platforms)}
          and m.delivered_version < m.version and not m.given_up and m.due_at <= now() and (m.final or m.next_edit_at <= now())
          and (m.lease_until is null or m.lease_until < now())
          and (m.in_thread_of is null or p.thread is not null)
          -- A new post to a channel waits while an older one there waits, or is being posted by this
          -- process: they stand in the order of their jobs. (A lease left by a process that died holds back
          -- only its row. Jobs asked for at the same instant stand in the order their rows were written.)
          and (m.message is not null or m.in_thread_of is not null or not exists (
            select 1 from job_messages o
            where o.conversation = m.conversation and (coalesce(o.job_id, 0), o.id) < (coalesce(m.job_id, 0), m.id) and o.message is null and o.in_thread_of is null
              and o.delivered_version < o.version and not o.given_up and (o.due_at > now() or (o.lease_owner = ${owner} and o.lease_until > now()))))
          ${inFlight.size > 0 ? sql`and m.id not in ${sql([...inFlight.keys()])}` : sql``}
        order by coalesce(m.job_id, 0), m.id
        limit ${n}
        for update of m skip locked)
      update job_messages m set lease_owner = ${owner}, lease_until = now() + make_interval(secs => ${leaseSecs})
      from c where m.id = c.id
      returning m.*, (select p.thread from job_messages p where p.id = m.in_thread_of) as parent_thread`;
  }

  /** The view as it lands: a live message far behind its state says from when it is. */
  function landing(row: Claimed): View {
    const lag = Date.now() - row.stateAt.getTime();
    if (row.slot !== "live" || lag < (options.lagNoteMs ?? 5000)) return row.view;
    const time = formatClock(row.stateAt);
    const note = translate(row.view.lang ?? "en", "live.delivered_late", { time });
    return { ...row.view, blocks: [...row.view.blocks, { type: "context", text: note }] };
  }

  async function send(row: Claimed): Promise<{ message?: string; thread?: string }> {
    const adapter = chat.adapterFor(row.conversation);
    const view = landing(row);
    const call = async (): Promise<{ message?: string; thread?: string }> => {
      if (row.message) {
        await adapter.edit(row.message, view);
        return {};
      }
      if (row.inThreadOf === null) {
        const start = await adapter.startThread(row.conversation, view, row.title ?? view.text, { maxWaitMs: 0 });
        return { message: start.message, thread: start.thread };
      }
      return { message: await adapter.post(row.parentThread!, view, { maxWaitMs: 0 }) };
    };
    const timeout = callTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ChatUnreachableError(`no answer from ${adapter.platform} within ${timeout} ms`)), timeout);
    });
    try {
      return await Promise.race([call(), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the message was delivered; when chat (or the shared budget) said to wait, for how long. */
  async function deliver(row: Claimed): Promise<{ delivered: boolean; waitMs?: number }> {
    const minEdit = (() => {
      try {
        return chat.adapterFor(row.conversation).minEditIntervalMs;
      } catch {
        return 1000;
      }
    })();
    try {
      const refs = await send(row);
      await sql`
        update job_messages set
          delivered_version = greatest(delivered_version, ${row.version}),
          message = coalesce(message, ${refs.message ?? null}), thread = coalesce(thread, ${refs.thread ?? null}),
          next_edit_at = now() + make_interval(secs => ${minEdit / 1000}), failures = 0, last_error = null,
          lease_owner = null, lease_until = null, delivered_at = now()
        where id = ${row.id}`;
      if (refs.message) await recordRefs(row, refs);
      if (row.failures > 0) await recovered(row);
      return { delivered: true };
    } catch (err) {
      // The lease runs out if even this cannot be written; the row is then taken again.
      await failed(row, err).catch((problem: unknown) => log.warn({ err: problem, ...ownerOf(row) }, "could not record a chat delivery's failure"));
      return err instanceof RateLimitedError ? { delivered: false, waitMs: err.retryAfterMs } : { delivered: false };
    }
  }

  /**
   * Holds the rows still waiting in a chain for another lease, so that none is sent after its lease
   * ran out (another process may have taken it by then). Returns the ids still held.
   */
  async function renew(rows: readonly Claimed[]): Promise<Set<number>> {
    const held = await sql<{ id: number }[]>`
      update job_messages set lease_until = now() + make_interval(secs => ${leaseSecs})
      where id = any(${rows.map((r) => r.id)}) and lease_owner = ${owner} and lease_until > now()
      returning id`;
    return new Set(held.map((r) => r.id));
  }

  /** Puts rows this process holds back, due once `waitMs` has passed (one statement). */
  async function postpone(rows: readonly Claimed[], waitMs: number): Promise<void> {
    const secs = Math.max(0.05, waitMs / 1000);
    await sql`
      update job_messages set due_at = greatest(due_at, now() + make_interval(secs => ${secs})), lease_owner = null, lease_until = null
      where id = any(${rows.map((r) => r.id)}) and lease_owner = ${owner}`;
  }

  /**
   * The first message through after failures: the platform answers again, so
   * the others of the platform waiting out their backoff are due now, instead
   * of each after its own pause (up to MAX_BACKOFF_MS). The shared budget is
   * still asked before each is sent.
   */
  async function recovered(row: Claimed): Promise<void> {
    try {
      const due = await sql`
        update job_messages set due_at = now()
        where platform = ${row.platform} and failures > 0 and due_at > now() and delivered_version < version and not given_up
          and (lease_until is null or lease_until < now())`;
      if (due.count > 0) nudge();
    } catch (err) {
      // They keep their own next tries.
      log.warn({ err, platform: row.platform }, "chat delivery: could not bring forward the messages waiting after failures");
    }
  }

  /** The job (or schedule) row keeps the references too: buttons are checked against them. */
  async function recordRefs(row: Claimed, refs: { message?: string; thread?: string }): Promise<void> {
    if (row.scheduleId !== null) {
      if (row.slot === "approval") await sql`update schedules set approval_message = ${refs.message!} where id = ${row.scheduleId}`;
      return;
    }
    switch (row.slot) {
      case "parent":
        await sql`update jobs set parent_message = ${refs.message!}, thread = ${refs.thread ?? refs.message!} where id = ${row.jobId}`;
        return;
      case "live":
        await sql`update jobs set live_message = ${refs.message!} where id = ${row.jobId}`;
        return;
      case "approval":
        await sql`update jobs set approval_message = ${refs.message!} where id = ${row.jobId}`;
        return;
      default:
        return;
    }
  }

  async function failed(row: Claimed, err: unknown): Promise<void> {
    const release = sql`lease_owner = null, lease_until = null`;
    if (err instanceof RateLimitedError) {
      const secs = Math.max(0.05, err.retryAfterMs / 1000);
      // The wait applies to everything else waiting to be posted in the same place.
      await sql`update job_messages set due_at = greatest(due_at, now() + make_interval(secs => ${secs})), ${release} where id = ${row.id}`;
      if (!row.message) {
        // Rows another process holds are left alone (no waiting, no deadlock): their holder hears the same.
        await sql`
          update job_messages set due_at = greatest(due_at, now() + make_interval(secs => ${secs}))
          where id in (
            select id from job_messages
            where conversation = ${row.conversation} and message is null and delivered_version < version and not given_up and id <> ${row.id}
              and due_at < now() + make_interval(secs => ${secs}) and (lease_until is null or lease_until < now())
            for update skip locked)`;
      }
      return;
    }
    const refused = isTestumError(err) && !(err instanceof ChatUnreachableError);
    const failures = row.failures + 1;
    // Spread a little, so messages that failed together are not all tried again at the same instant.
    const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures - 1, 10)) * (0.8 + 0.4 * Math.random());
    const reason = err instanceof Error ? err.message : String(err);
    if (refused && failures >= MAX_REFUSALS) {
      log.error({ err, ...ownerOf(row), slot: row.slot }, "chat keeps refusing a message; giving up on it");
      await sql`update job_messages set given_up = true, failures = ${failures}, last_error = ${reason}, ${release} where id = ${row.id}`;
      // A thread that never started takes its messages with it.
      await sql`update job_messages set given_up = true, last_error = ${reason} where in_thread_of = ${row.id} and message is null`;
      return;
    }
    if (failures === 1 || failures % 10 === 0) log.warn({ err: reason, ...ownerOf(row), slot: row.slot, failures }, "chat did not take a message; trying again");
    await sql`
      update job_messages set failures = ${failures}, last_error = ${reason}, due_at = now() + make_interval(secs => ${backoff / 1000}), ${release}
      where id = ${row.id}`;
  }

  async function pass(): Promise<void> {
    const free = limit - inFlight.size;
    if (free <= 0) return;
    // Oldest job first: a conversation's posts are made in the order of their jobs.
    const rows = (await claim(free)).sort((a, b) => (a.jobId ?? 0) - (b.jobId ?? 0) || a.id - b.id);
    // New posts to one conversation go one after another (the platform takes them about one a
    // second per channel anyway): once one is rate limited, the others wait with it, put back in
    // one statement, without asking the platform or the shared budget again for each.
    const chains = new Map<string, Claimed[]>();
    for (const row of rows) {
      const key = row.message ? `edit:${row.id}` : `post:${row.conversation}`;
      const chain = chains.get(key);
      if (chain) chain.push(row);
      else chains.set(key, [row]);
    }
    for (const chain of chains.values()) {
      const running = (async () => {
        let leased = Date.now();
        let held = new Set(chain.map((r) => r.id));
        for (const [i, row] of chain.entries()) {
          // A post waiting behind slow ones gets a new lease before its lease is a third gone.
          if (i > 0 && Date.now() - leased > (leaseSecs * 1000) / 3) {
            leased = Date.now();
            held = await renew(chain.slice(i));
          }
          if (!held.has(row.id)) continue;
          const result = await deliver(row);
          inFlight.delete(row.id);
          // A slot freed after a delivery: look for more at once (after a refusal, the next poll does).
          if (result.delivered) nudge();
          const rest = chain.slice(i + 1);
          if (rest.length === 0) return;
          if (result.waitMs !== undefined) {
            await postpone(rest, result.waitMs);
            return;
          }
          if (!result.delivered) {
            // The platform did not take the post: the ones after it stand behind it (they would
            // most likely fail the same way, each after its own wait); they go back for later.
            await postpone(rest, 0);
            return;
          }
        }
      })()
        .catch((err: unknown) => log.warn({ err }, "chat delivery: could not put messages back to wait"))
        .finally(() => {
          for (const row of chain) inFlight.delete(row.id);
        });
      for (const row of chain) inFlight.set(row.id, running);
    }
    if (options.onBacklog && Date.now() - lastReport >= (options.reportEveryMs ?? 60_000)) {
      lastReport = Date.now();
      options.onBacklog(await undelivered(sql));
    }
  }

  function run(): void {
    if (stopped) return;
    if (passing) {
      again = true;
      return;
    }
    passing = pass()
      .catch((err: unknown) => log.warn({ err }, "chat delivery pass failed"))
      .finally(() => {
        passing = undefined;
        if (again) {
          again = false;
          nudge();
        }
      });
  }

  function nudge(): void {
    if (!stopped) setImmediate(run);
  }

  const timer = setInterval(run, options.pollMs ?? 250);
  timer.unref();
  run();

  return {
    nudge,
    async stop() {
      clearInterval(timer);
      // A last pass, bounded: the final states of jobs that ended while shutting down go out now
      // when chat allows; whatever is left waits in the outbox for the next process.
      const until = Date.now() + (options.flushMs ?? 4000);
      let flushing = true;
      const flush = async () => {
        while (flushing) {
          await Promise.allSettled([passing, ...inFlight.values()]);
          const pending = await undelivered(sql);
          const left = platforms.reduce((sum, p) => sum + (pending[p] ?? 0), 0);
          if (left === 0 || !flushing || Date.now() >= until) return;
          await pass();
          await Promise.allSettled([...inFlight.values()]);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await within(
        flush().catch((err: unknown) => log.warn({ err }, "chat delivery: last pass failed")),
        Math.max(0, until - Date.now()),
        undefined,
      );
      flushing = false;
      stopped = true;
      await within(Promise.allSettled([passing, ...inFlight.values()]), 10_000, undefined);
      // Rows still held go back at once for another process.
      await within(
        releaseDeliveriesOf(sql, [owner]).then(() => undefined),
        3000,
        undefined,
      );
    },
  };
}
