import { createHash } from "node:crypto";
import cron from "node-cron";
import { loadPrincipal, type Right } from "../access/access.js";
import { approvalHash } from "../access/approvals.js";
import { recordAudit } from "../access/audit.js";
import { authorizeTarget } from "../access/authorize.js";
import { displayName, type View } from "../chat/chat.js";
import { transaction, type Sql } from "../db.js";
import type { Host } from "../hosts/hosts.js";
import { isTestumError, NotAllowedError } from "../errors.js";
import { translator, type Lang, type Translator } from "../chat/i18n.js";
import { renderSummary } from "../jobs/fanout.js";
import { renderLive, renderParent } from "../chat/job-view.js";
import { listTasks, type Job, type Task } from "../jobs/jobs.js";
import type { JobQueue, Logger, PeopleLookup } from "../ports.js";
import { queueJob, requestJob } from "../jobs/lifecycle.js";
import { addMessages, setScheduleMessage } from "../jobs/outbox.js";
import { message } from "../chat/replies.js";
import { commandRisks, getRunbook, RIGHT_OF_ROLE, runbookCommand, type Runbook } from "../runbooks/runbooks.js";
import { getSchedule, missedBetween, type Schedule } from "./schedules.js";
import { formatTime } from "../chat/time.js";

export interface SchedulerDeps {
  readonly sql: Sql;
  /** Re-reads the owner's platform groups at every fire. */
  readonly people: PeopleLookup;
  readonly queue: JobQueue;
  readonly log: Logger;
  readonly publicUrl: string;
  readonly admins: readonly string[];
  readonly approvalHosts: number;
  /** Distinct approvers, and how long a request waits, for a risky schedule run by hand (as for jobs). */
  readonly approvalsRequired?: number;
  readonly approvalTtlMs?: number;
  /** The language of the approval request a risky run by hand asks for (TESTUM_LANG; see requestLang). */
  readonly approvalLang?: Lang;
  /** Names this process in schedule_fires. */
  readonly processName: string;
  /** Run the last fire missed while every process was down (TESTUM_SCHEDULE_CATCHUP). */
  readonly catchUp: boolean;
  /** How often the schedules are re-read from the database. */
  readonly syncEveryMs?: number;
  /** TESTUM_MODE: in `allowlist`, a schedule of the owner's own command needs their free-form right at every fire. */
  readonly mode: "open" | "allowlist";
}

/**
 * What a fire runs, where, and the right its owner needs: a runbook as it
 * is now (its target, its template with the schedule's values, its role),
 * or the schedule's own command.
 */
async function whatToRun(deps: SchedulerDeps, schedule: Schedule): Promise<{ command: string; target: string; right: Right; runbook?: Runbook }> {
  if (schedule.runbook === null) return { command: schedule.command, target: schedule.target, right: deps.mode === "allowlist" ? "free-form" : "run" };
  const runbook = await getRunbook(deps.sql, schedule.runbook);
  return { command: runbookCommand(runbook, schedule.runbookParams ?? {}), target: runbook.target, right: RIGHT_OF_ROLE[runbook.role], runbook };
}

/** The options that make a schedule's approval cover a run. */
export function scheduleOptions(schedule: Pick<Schedule, "timeoutMs">): Record<string, unknown> {
  return { timeoutMs: schedule.timeoutMs };
}

/**
 * Says something about a fire of a schedule in its channel (a new top-level
 * message), in the schedule's language. The note is recorded as one of the
 * schedule's messages; the delivery loop posts it when chat allows (see
 * delivery.ts), so a fire never waits for chat.
 */
async function tell(deps: SchedulerDeps, schedule: Schedule, at: Date, view: View): Promise<void> {
  const t = translator(schedule.lang);
  try {
    await setScheduleMessage(
      deps.sql,
      schedule.id,
      schedule.channel,
      `note:fire-${at.toISOString()}`,
      { ...view, lang: t.lang },
      {
        title: t("schedule.thread_title", { name: schedule.name }),
      },
    );
  } catch (err) {
    deps.log.error({ err, schedule: schedule.id }, "could not record a note for a schedule's channel");
  }
}

/**
 * Runs one fire of a schedule, once across every testum process: the first
 * process to record the fire runs it. At every fire the owner is looked up
 * on their platform (a schedule whose owner is gone is paused), their rights
 * on each host the target names now are checked, and so is the approval.
 */
export async function fireSchedule(deps: SchedulerDeps, scheduleId: number, at: Date, reason: "scheduled" | "manual" | "catch-up"): Promise<Job | undefined> {
  const { sql } = deps;
  const won = await sql`
    insert into schedule_fires (schedule_id, fire_at, fired_by, outcome) values (${scheduleId}, ${at}, ${deps.processName}, 'starting')
    on conflict do nothing returning schedule_id`;
  if (won.length === 0) return undefined;
  // Runs of one schedule never overlap: while the last run (and its report) is
  // not finished, a fire is skipped, as cron's no-overlap does.
  const [busy] = await sql`
    select f.fire_at from schedule_fires f
      join schedules s on s.id = f.schedule_id
      left join jobs j on j.id = f.job_id
    where f.schedule_id = ${scheduleId} and f.fire_at < ${at} and f.outcome in ('starting', 'queued')
      and (j.id is null or j.status <> 'lost')
      and f.fire_at > now() - make_interval(secs => s.timeout_ms / 1000.0 + 300)
    limit 1`;
  if (busy) {
    await sql`update schedule_fires set outcome = 'skipped_overlap' where schedule_id = ${scheduleId} and fire_at = ${at}`;
    return undefined;
  }
  const schedule = await getSchedule(sql, scheduleId).catch(() => undefined);
  if (!schedule || (schedule.paused && reason !== "manual")) {
    await sql`update schedule_fires set outcome = 'skipped_paused' where schedule_id = ${scheduleId} and fire_at = ${at}`;
    return undefined;
  }
  const outcome = async (value: string, job?: Job, more: Record<string, unknown> = {}) => {
    await sql`update schedule_fires set outcome = ${value}, job_id = ${job?.id ?? null} where schedule_id = ${scheduleId} and fire_at = ${at}`;
    await recordAudit(sql, {
      actor: schedule.owner,
      actorName: schedule.ownerName ?? undefined,
      channel: schedule.channel,
      action: "schedule.fire",
      target: schedule.target,
      outcome: value,
      detail: { schedule: schedule.id, fireAt: at.toISOString(), reason, job: job?.id ?? null, ...more },
    });
  };

  /**
   * False when the last fire that got as far as a decision ended the same way:
   * the channel hears once while a schedule stays refused or its owner's
   * platform stays unreachable, not at every fire.
   */
  const isNews = async (value: string): Promise<boolean> => {
    const [last] = await sql<{ outcome: string | null }[]>`
      select outcome from schedule_fires
      where schedule_id = ${scheduleId} and fire_at < ${at} and outcome not in ('starting', 'skipped_overlap', 'skipped_paused')
      order by fire_at desc limit 1`;
    return last?.outcome !== value;
  };
  const t = translator(schedule.lang);
  let note: string | undefined;
  if (schedule.lastFireAt && reason === "scheduled") {
    const missed = missedBetween(schedule.cron, schedule.timezone, schedule.lastFireAt, at);
    if (missed.count > 0) {
      const last = missed.last ? formatTime(missed.last) : "?";
      note = missed.capped ? t("schedule.missed_many", { last }) : t("schedule.missed", { count: missed.count, last });
    }
  }
  await sql`update schedules set last_fire_at = greatest(last_fire_at, ${at}) where id = ${scheduleId}`;

  // The owner's rights now: their groups as their platform says today, never as they were when the schedule was made.
  const owner = await deps.people.lookUp(schedule.owner, schedule.channel, { fresh: reason === "manual" });
  const who = displayName(schedule.ownerName, schedule.owner);
  if (owner.state !== "present") {
    if (owner.state === "unavailable") {
      if (await isNews("owner_unavailable")) {
        await tell(deps, schedule, at, message(t("schedule.owner_unavailable", { name: schedule.name, id: schedule.id, detail: owner.detail }), undefined, "warning"));
      }
      await outcome("owner_unavailable", undefined, { why: owner.detail });
    } else {
      await sql`update schedules set paused = true, updated_at = now() where id = ${scheduleId}`;
      await tell(deps, schedule, at, message(t("schedule.owner_gone", { name: schedule.name, id: schedule.id, owner: who, detail: owner.detail }), undefined, "warning"));
      await outcome("paused_owner_unresolved", undefined, { owner: owner.state, why: owner.detail });
    }
    return undefined;
  }
  let hosts: Host[];
  let run: Awaited<ReturnType<typeof whatToRun>>;
  try {
    run = await whatToRun(deps, schedule);
    const principal = await loadPrincipal(sql, { id: schedule.owner, name: schedule.ownerName ?? undefined, groups: owner.groups }, deps.admins);
    hosts = await authorizeTarget(sql, principal, run.right, run.target);
  } catch (err) {
    const why = isTestumError(err) ? err.say(t) : (err as Error).message;
    if (reason === "manual" || (await isNews("refused"))) {
      await tell(deps, schedule, at, message(t("schedule.did_not_run", { name: schedule.name, id: schedule.id, reason: why }), undefined, "warning"));
    }
    await outcome("refused", undefined, err instanceof NotAllowedError ? { right: err.right ?? null, hosts: err.hosts ?? null } : { reason: why });
    return undefined;
  }
  const { command } = run;
  const runbook = run.runbook ? { name: run.runbook.name, params: schedule.runbookParams ?? {}, approval: run.runbook.approval } : undefined;
  const reasons = await commandRisks(sql, { command, runbook }, hosts, deps.approvalHosts);
  if (reasons.length > 0 && approvalHash({ kind: "command", command }, hosts, scheduleOptions(schedule)) !== schedule.approvedHash) {
    const said = reasons.map((r) => t(r.key, r.params)).join("; ");
    await tell(deps, schedule, at, message(t("schedule.now_needs_approval", { name: schedule.name, id: schedule.id, reasons: said }), undefined, "warning"));
    await outcome("needs_approval");
    return undefined;
  }
  // A risky schedule run by hand asks again: its approval covers its fires, not runs on demand.
  const ask = reason === "manual" && reasons.length > 0;
  const options = {
    ...scheduleOptions(schedule),
    schedule: { id: schedule.id, name: schedule.name },
    ...(runbook ? { runbook: { name: runbook.name } } : {}),
    ...(note ? { note } : {}),
    ...(ask && deps.approvalLang ? { approvalLang: deps.approvalLang } : {}),
  };
  // Reports that only post on change, or while muted, run without chat messages; the end decides.
  const quiet = (schedule.onChange || schedule.muted) && !ask;
  const job = await requestJob(
    sql,
    {
      command,
      target: run.target,
      hosts,
      requestedBy: schedule.owner,
      requestedByName: schedule.ownerName ?? undefined,
      conversation: schedule.channel,
      timeoutMs: schedule.timeoutMs,
      scheduleId: schedule.id,
      lang: schedule.lang,
      options,
      approval: ask
        ? {
            reasons: reasons.map((r) => translator(deps.approvalLang ?? schedule.lang)(r.key, r.params)),
            hash: approvalHash({ kind: "command", command }, hosts, options),
            required: deps.approvalsRequired ?? schedule.approvalsRequired,
            expiresAt: new Date(Date.now() + (deps.approvalTtlMs ?? 30 * 60_000)),
          }
        : undefined,
    },
    undefined,
    deps.publicUrl,
    quiet,
  );
  // The job is the fire's now: the next fire waits for its end (no overlap).
  await sql`update schedule_fires set outcome = 'queued', job_id = ${job.id} where schedule_id = ${scheduleId} and fire_at = ${at}`;
  try {
    if (!ask) await queueJob(sql, deps.queue, job, deps.publicUrl, deps.log);
  } catch (err) {
    await outcome("failed", job);
    throw err;
  }
  await outcome(ask ? "approval_required" : "queued", job);
  return job;
}

/** A fingerprint of a whole run: every host's outcome and output. */
function runFingerprint(tasks: readonly Task[]): string {
  const parts = tasks.map((t) => `${t.hostName}\0${t.status}\0${t.exitCode ?? ""}\0${t.outputHash ?? ""}`).sort();
  return createHash("sha256").update(parts.join("\n")).digest("hex");
}

/**
 * After a scheduled job ends: remembers its output, and decides what the
 * channel hears (a report that runs only on change, the mute after three
 * failures in a row, the recovery).
 */
export async function afterScheduledJob(deps: Pick<SchedulerDeps, "sql" | "log" | "publicUrl">, job: Job): Promise<void> {
  if (job.scheduleId === null) return;
  const { sql } = deps;
  const schedule = await getSchedule(sql, job.scheduleId).catch(() => undefined);
  if (!schedule) return;
  const tasks = await listTasks(sql, job.id);
  const fingerprint = runFingerprint(tasks);
  const failed = job.status !== "succeeded";
  const failures = failed ? schedule.consecutiveFailures + 1 : 0;
  // Whether the run has messages of its own (a report that runs only on change has none until it is told).
  const [{ posted }] = (await sql`select exists (select 1 from job_messages where job_id = ${job.id} and slot = 'parent') as posted`) as unknown as [{ posted: boolean }];
  const changed = schedule.lastOutputHash !== fingerprint;
  const t = translator(job.lang);
  let muted = schedule.muted;
  const notes: string[] = [];
  let report = false;
  if (failed && failures >= 3 && !schedule.muted) {
    muted = true;
    notes.push(t("schedule.muted", { name: schedule.name, id: schedule.id, count: failures }));
    report = !posted;
  } else if (!failed && schedule.muted) {
    muted = false;
    notes.push(t("schedule.recovered", { name: schedule.name, id: schedule.id, count: schedule.consecutiveFailures }));
    report = !posted;
  } else if (!posted && !schedule.muted && schedule.onChange && (schedule.lastOutputHash === null || changed)) {
    report = true;
    if (schedule.lastOutputHash !== null) notes.push(t("schedule.changed", { name: schedule.name }));
  }
  await sql`
    update schedules set last_output_hash = ${fingerprint}, consecutive_failures = ${failures}, muted = ${muted}
    where id = ${schedule.id}`;
  // The next fire may start now: this run's bookkeeping is done.
  await sql`update schedule_fires set outcome = 'done' where job_id = ${job.id}`;
  const title = t("schedule.thread_title", { name: schedule.name });
  const tone = muted ? "warning" : "success";
  if (report) {
    const detail = tasks.length === 1 ? finalLive(deps, job, tasks[0]!, t) : renderSummary(job, tasks, deps.publicUrl, t);
    await transaction(sql, (tx) =>
      addMessages(tx, job.id, schedule.channel, [
        { slot: "parent", view: renderParent(job, tasks, deps.publicUrl, t), title },
        { slot: "live", view: detail },
        ...notes.map((note, i) => ({ slot: `note:schedule-${i}` as const, view: { ...message(note), lang: t.lang } })),
      ]),
    );
  } else if (notes.length > 0) {
    await addMessages(
      sql,
      job.id,
      schedule.channel,
      notes.map((note, i) => ({ slot: `note:schedule-${i}` as const, view: { ...message(note, undefined, tone), lang: t.lang }, title, startsThread: true })),
    );
  }
}

function finalLive(deps: Pick<SchedulerDeps, "publicUrl">, job: Job, task: Task, t: Translator): View {
  const lines = (task.tail ?? "").split("\n").filter((l, i, all) => l !== "" || i < all.length - 1);
  return renderLive(
    job,
    task.hostName,
    { lines, omitted: Math.max(0, (task.logLines ?? 0) - lines.length), lineCount: task.logLines ?? 0, status: task.status, updatedAt: Date.now() },
    deps.publicUrl,
    t,
  );
}

/**
 * Keeps a cron task per active schedule in this process, re-reading the
 * schedules every few seconds, and fires them through fireSchedule.
 */
export function startScheduler(deps: SchedulerDeps): { stop(): Promise<void>; sync(): Promise<void> } {
  const tasks = new Map<number, { task: ReturnType<typeof cron.schedule>; version: string }>();
  let stopped = false;
  let current: Promise<unknown> = Promise.resolve();

  async function sync(): Promise<void> {
    const schedules = await deps.sql<Schedule[]>`
      select * from schedules where not paused and approval_state in ('none', 'approved')`;
    const seen = new Set<number>();
    for (const schedule of schedules) {
      seen.add(schedule.id);
      const version = `${schedule.cron}|${schedule.timezone}|${schedule.updatedAt.getTime()}`;
      const existing = tasks.get(schedule.id);
      if (existing?.version === version) continue;
      if (existing) await existing.task.destroy();
      const task = cron.schedule(
        schedule.cron,
        (context) => {
          current = fireSchedule(deps, schedule.id, context.date, "scheduled").catch((err) => deps.log.error({ err, schedule: schedule.id }, "a scheduled run failed to start"));
        },
        { timezone: schedule.timezone, name: `testum-schedule-${schedule.id}`, noOverlap: false, unref: true },
      );
      tasks.set(schedule.id, { task, version });
      if (!existing && deps.catchUp) await catchUp(schedule);
    }
    for (const [id, entry] of tasks) {
      if (!seen.has(id)) {
        await entry.task.destroy();
        tasks.delete(id);
      }
    }
  }

  /** Runs the last fire missed while no process was up (once, whoever gets there first). */
  async function catchUp(schedule: Schedule): Promise<void> {
    const since = schedule.lastFireAt ?? schedule.createdAt;
    const missed = missedBetween(schedule.cron, schedule.timezone, since, new Date(Date.now() - 1000));
    if (missed.last) await fireSchedule(deps, schedule.id, missed.last, "catch-up");
  }

  const timer = setInterval(() => {
    if (!stopped) current = sync().catch((err) => deps.log.error({ err }, "could not read the schedules"));
  }, deps.syncEveryMs ?? 5000);
  timer.unref();
  current = sync().catch((err) => deps.log.error({ err }, "could not read the schedules"));

  return {
    sync,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
      for (const { task } of tasks.values()) await task.destroy();
      tasks.clear();
    },
  };
}
