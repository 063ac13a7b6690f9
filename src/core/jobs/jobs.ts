import { randomBytes } from "node:crypto";
import type postgres from "postgres";
import type { Sql } from "../db.js";
import { TestumError } from "../errors.js";
import { LANGS, msg, translate, type Lang, type MessageKey } from "../chat/i18n.js";

/**
 * Jobs: one row per request (the source of truth for its state) and a task
 * per target host. The queue only carries job ids.
 */
export type JobStatus = "awaiting_approval" | "queued" | "running" | "succeeded" | "failed" | "timed_out" | "cancelled" | "lost" | "rejected" | "expired";
export type TaskStatus = JobStatus | "skipped";

export const FINAL_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "timed_out", "cancelled", "lost", "rejected", "expired"];

export interface Job {
  readonly id: number;
  readonly status: JobStatus;
  readonly command: string;
  readonly target: string;
  readonly requestedBy: string;
  readonly requestedByName: string | null;
  readonly conversation: string;
  readonly thread: string | null;
  readonly parentMessage: string | null;
  readonly liveMessage: string | null;
  readonly logToken: string;
  readonly timeoutMs: number;
  readonly options: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly heartbeatAt: Date | null;
  readonly worker: string | null;
  readonly error: string | null;
  readonly approvalReasons: readonly string[];
  readonly approvalHash: string | null;
  readonly approvalsRequired: number;
  readonly approvalExpiresAt: Date | null;
  readonly approvalMessage: string | null;
  readonly cancelRequestedAt: Date | null;
  readonly cancelledBy: string | null;
  readonly kind: "command" | "script";
  readonly reportKey: string | null;
  readonly scheduleId: number | null;
  /** The requester's language: everything posted for the job is in it. */
  readonly lang: Lang;
  /** When the job's links were revoked, and by whom (they answer 410 from then on). */
  readonly linksRevokedAt: Date | null;
  readonly linksRevokedBy: string | null;
}

export interface Task {
  readonly jobId: number;
  readonly hostName: string;
  readonly hostId: number | null;
  readonly status: TaskStatus;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly errorCode: string | null;
  readonly error: string | null;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly logKey: string | null;
  readonly logBytes: number | null;
  readonly logLines: number | null;
  readonly tail: string | null;
  readonly outputHash: string | null;
}

export interface NewJob {
  readonly kind?: "command" | "script";
  readonly command: string;
  readonly target: string;
  readonly hosts: ReadonlyArray<{ readonly id: number; readonly name: string }>;
  readonly requestedBy: string;
  readonly requestedByName?: string | undefined;
  readonly conversation: string;
  readonly timeoutMs: number;
  readonly options?: Readonly<Record<string, unknown>>;
  readonly scheduleId?: number | undefined;
  /** The requester's language (English when not given). */
  readonly lang?: Lang | undefined;
  /** When set, the job waits for approval before it is queued. */
  readonly approval?: {
    readonly reasons: readonly string[];
    readonly hash: string;
    readonly required: number;
    readonly expiresAt: Date;
  };
}

/** Writes a new job and its tasks (see `insertNewJob`), taking its number first. */
export async function createJob(sql: Sql, input: NewJob): Promise<Job> {
  const { job, tasks } = newJobRows(await nextJobId(sql), input);
  return insertNewJob(sql, job, tasks);
}

/** A number for a new job, taken before its row is written (so its messages can name it). */
export async function nextJobId(sql: Sql): Promise<number> {
  const [row] = await sql<{ id: number }[]>`select nextval(pg_get_serial_sequence('jobs', 'id'))::bigint as id`;
  return row!.id;
}

/**
 * The row and tasks a new job will have, as `insertNewJob` writes them: for
 * rendering its first messages before the one statement that stores
 * everything. The tasks are in the hosts' order (hosts come sorted by name,
 * as `listTasks` sorts tasks).
 */
export function newJobRows(id: number, input: NewJob): { job: Job; tasks: Task[] } {
  const job: Job = {
    id,
    status: input.approval ? "awaiting_approval" : "queued",
    command: input.command,
    target: input.target,
    requestedBy: input.requestedBy,
    requestedByName: input.requestedByName ?? null,
    conversation: input.conversation,
    thread: null,
    parentMessage: null,
    liveMessage: null,
    logToken: randomBytes(24).toString("base64url"),
    timeoutMs: input.timeoutMs,
    options: input.options ?? {},
    createdAt: new Date(),
    startedAt: null,
    finishedAt: null,
    heartbeatAt: null,
    worker: null,
    error: null,
    approvalReasons: input.approval?.reasons ?? [],
    approvalHash: input.approval?.hash ?? null,
    approvalsRequired: input.approval?.required ?? 0,
    approvalExpiresAt: input.approval?.expiresAt ?? null,
    approvalMessage: null,
    cancelRequestedAt: null,
    cancelledBy: null,
    kind: input.kind ?? "command",
    reportKey: null,
    scheduleId: input.scheduleId ?? null,
    lang: input.lang ?? "en",
    linksRevokedAt: null,
    linksRevokedBy: null,
  };
  const tasks: Task[] = input.hosts.map((h) => ({
    jobId: id,
    hostName: h.name,
    hostId: h.id,
    status: "queued",
    exitCode: null,
    signal: null,
    errorCode: null,
    error: null,
    startedAt: null,
    finishedAt: null,
    logKey: null,
    logBytes: null,
    logLines: null,
    tail: null,
    outputHash: null,
  }));
  return { job, tasks };
}

/**
 * Writes a new job (from `newJobRows`) and its tasks in one statement,
 * together with `also`: further data-modifying CTEs (`name as (insert …)`)
 * that may read the job's row as `j`. One statement is one transaction:
 * all of it is stored, or none. Returns the stored row.
 */
export async function insertNewJob(sql: Sql, job: Job, tasks: readonly Task[], also: readonly postgres.PendingQuery<postgres.Row[]>[] = []): Promise<Job> {
  const names = tasks.map((t) => t.hostName);
  const ids = tasks.map((t) => t.hostId);
  const rest = also.reduce((acc, cte) => sql`${acc}, ${cte}`, sql``);
  const [stored] = await sql<Job[]>`
    with j as (
      insert into jobs (id, schedule_id, kind, command, target, requested_by, requested_by_name, conversation, log_token, timeout_ms, options,
                        status, approval_reasons, approval_hash, approvals_required, approval_expires_at, lang)
      values (${job.id}, ${job.scheduleId}, ${job.kind}, ${job.command}, ${job.target}, ${job.requestedBy}, ${job.requestedByName},
              ${job.conversation}, ${job.logToken}, ${job.timeoutMs}, ${sql.json(job.options as never)}, ${job.status},
              ${sql.json(job.approvalReasons as never)}, ${job.approvalHash}, ${job.approvalsRequired}, ${job.approvalExpiresAt}, ${job.lang})
      returning *
    ), t as (
      insert into job_tasks (job_id, host_name, host_id)
      select j.id, h.name, h.id from j, unnest(${names}::text[], ${ids as never}::bigint[]) as h (name, id)
    )${rest}
    select * from j`;
  return stored!;
}

export async function getJob(sql: Sql, id: number): Promise<Job> {
  const [job] = await sql<Job[]>`select * from jobs where id = ${id}`;
  if (!job) throw new TestumError("unknown_job", msg("jobs.unknown", { id }));
  return job;
}

export async function findJobByLogToken(sql: Sql, token: string): Promise<Job | undefined> {
  const [job] = await sql<Job[]>`select * from jobs where log_token = ${token}`;
  return job;
}

export async function listTasks(sql: Sql, jobId: number): Promise<Task[]> {
  return sql<Task[]>`select * from job_tasks where job_id = ${jobId} order by host_name`;
}

/**
 * Moves a queued job to running for this worker. Returns undefined when the
 * job is not queued any more: a job is started at most once, whatever the
 * queue redelivers.
 */
export async function claimJob(sql: Sql, jobId: number, worker: string): Promise<Job | undefined> {
  const [job] = await sql<Job[]>`
    update jobs set status = 'running', started_at = now(), heartbeat_at = now(), worker = ${worker}
    where id = ${jobId} and status = 'queued'
    returning *`;
  return job;
}

/**
 * Queued jobs that have waited longer than `olderThanMs` and that no process checked on in that
 * time, marked as checked by this one: their queue entries are then looked at (see the reaper).
 * `skip locked` and the mark keep two processes from checking the same job at once.
 */
export async function claimQueueChecks(sql: Sql, olderThanMs: number, limit: number): Promise<Array<Pick<Job, "id" | "conversation" | "target" | "lang">>> {
  return sql<Array<Pick<Job, "id" | "conversation" | "target" | "lang">>>`
    update jobs set queue_checked_at = now()
    where id in (
      select id from jobs
      where status = 'queued' and created_at < now() - make_interval(secs => ${olderThanMs / 1000})
        and (queue_checked_at is null or queue_checked_at < now() - make_interval(secs => ${olderThanMs / 1000}))
      order by created_at
      limit ${limit}
      for update skip locked)
    returning id, conversation, target, lang`;
}

/** Records that the job's worker is alive; returns true when a cancel was requested meanwhile. */
export async function heartbeat(sql: Sql, jobId: number): Promise<boolean> {
  const [row] = await sql<{ cancelRequestedAt: Date | null }[]>`
    update jobs set heartbeat_at = now() where id = ${jobId} and status = 'running' returning cancel_requested_at`;
  return row?.cancelRequestedAt != null;
}

/**
 * Asks for a job to stop. A job not started yet ends at once; a running one
 * is flagged, and its worker stops it. Returns what happened.
 */
export async function requestCancel(tx: Sql, jobId: number, by: string): Promise<{ result: "cancelled" | "stopping" | "already_ended"; ended?: Job }> {
  const [ended] = await tx<Job[]>`
    update jobs set status = 'cancelled', finished_at = now(), cancel_requested_at = now(), cancelled_by = ${by}
    where id = ${jobId} and status in ('awaiting_approval', 'queued')
    returning *`;
  if (ended) {
    await tx`update job_tasks set status = 'cancelled', finished_at = now() where job_id = ${jobId} and status = 'queued'`;
    return { result: "cancelled", ended };
  }
  const [running] = await tx<Job[]>`
    update jobs set cancel_requested_at = coalesce(cancel_requested_at, now()), cancelled_by = coalesce(cancelled_by, ${by})
    where id = ${jobId} and status = 'running'
    returning *`;
  return { result: running ? "stopping" : "already_ended" };
}

/** Tasks that never started end as `status` (skipped, or cancelled), with the reason. */
export async function closeUnstartedTasks(sql: Sql, jobId: number, status: "skipped" | "cancelled", reason: string): Promise<void> {
  await sql`
    update job_tasks set status = ${status}, error = ${reason}, finished_at = now()
    where job_id = ${jobId} and status = 'queued'`;
}

export async function setReportKey(sql: Sql, jobId: number, key: string): Promise<void> {
  await sql`update jobs set report_key = ${key} where id = ${jobId}`;
}

/** The latest jobs of a conversation, newest first. */
export async function recentJobs(sql: Sql, conversation: string, limit: number): Promise<Job[]> {
  return sql<Job[]>`select * from jobs where conversation = ${conversation} order by id desc limit ${limit}`;
}

/**
 * A fixed text in each job row's own language, for updates of many jobs at
 * once: `case lang when 'en' then … when 'ru' then … end`.
 */
export function inEachLang(sql: Sql | postgres.TransactionSql<{}>, key: MessageKey) {
  const cases = LANGS.reduce((acc, lang) => sql`${acc} when ${lang}::text then ${translate(lang, key)}::text`, sql`case lang`);
  return sql`${cases} else ${translate("en", key)}::text end`;
}

/** Ends a queued or running job. Returns it, or nothing when it had already ended (e.g. marked lost). */
export async function finishJob(tx: Sql, jobId: number, status: JobStatus, error?: string): Promise<Job | undefined> {
  const [job] = await tx<Job[]>`
    update jobs set status = ${status}, finished_at = now(), error = coalesce(${error ?? null}, error)
    where id = ${jobId} and status in ('queued', 'running')
    returning *`;
  return job;
}

/** Ends a job still waiting for approval as rejected. Returns it, or nothing when it was not waiting any more. */
export async function rejectWaitingJob(tx: Sql, jobId: number, error: string): Promise<Job | undefined> {
  const [job] = await tx<Job[]>`
    update jobs set status = 'rejected', finished_at = now(), error = ${error}
    where id = ${jobId} and status = 'awaiting_approval'
    returning *`;
  return job;
}

/**
 * Marks running jobs whose worker stopped sending heartbeats as lost, with
 * their unfinished tasks. They are never run again. Returns them.
 */
export async function reapLostJobs(tx: Sql, staleAfterMs: number): Promise<Job[]> {
  const jobs = await tx<Job[]>`
    update jobs set status = 'lost', finished_at = now(), error = ${inEachLang(tx, "jobs.error.lost")}
    where status = 'running' and heartbeat_at < now() - make_interval(secs => ${staleAfterMs / 1000})
    returning *`;
  if (jobs.length > 0) {
    await tx`
      update job_tasks set status = 'lost', finished_at = now()
      where job_id in ${tx(jobs.map((j) => j.id))} and status in ('queued', 'running')`;
  }
  return jobs;
}
