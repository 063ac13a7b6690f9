import { appendAudits, chainSoon, pendingAuditsInsert, type AuditEntry } from "../access/audit.js";
import { transaction, type Sql } from "../db.js";
import { insertNewJob, newJobRows, nextJobId, finishJob, reapLostJobs, rejectWaitingJob, requestCancel, type Job, type JobStatus, type NewJob } from "./jobs.js";
import { expireApprovals } from "../access/approvals.js";
import { addThreadMessage, newJobMessages, type Slot } from "./outbox.js";
import { initialMessages, refreshJobMessages } from "./messages.js";
import type { View } from "../chat/chat.js";
import { TestumError } from "../errors.js";
import { msg, translator } from "../chat/i18n.js";
import type { JobQueue, Logger } from "../ports.js";

/**
 * A job's state changes. Each writes the job row, its audit record and the
 * new state of the job's chat messages (delivered later by the outbox, see
 * outbox.ts); none waits for chat.
 */

/** Who caused a change, as the audit log names them. */
export interface Cause {
  readonly actor: string;
  readonly actorName?: string | undefined;
}

/**
 * Records a new job: its row, its tasks, the audit record of the request and
 * its chat messages (unless `quiet`: a scheduled report that decides at its
 * end whether to say anything), in one statement (so one transaction, and
 * one round trip: the answer to the command waits for it). Its number is
 * taken first, so that its messages can be rendered before it is written.
 */
export async function requestJob(sql: Sql, input: NewJob, audit: AuditEntry | undefined, publicUrl: string, quiet = false, id?: number): Promise<Job> {
  const { job: row, tasks } = newJobRows(id ?? (await nextJobId(sql)), input);
  const job = await insertNewJob(sql, row, tasks, [
    ...(quiet ? [] : newJobMessages(sql, row.conversation, initialMessages(row, tasks, publicUrl))),
    // Recorded with the job, without waiting for other requests' audit records.
    ...(audit ? [pendingAuditsInsert(sql, [{ ...audit, detail: { job: row.id, ...audit.detail } }])] : []),
  ]);
  // Its place in the audit chain comes a moment later, with others'; should that fail, the next chaining takes it along.
  chainSoon(sql);
  return job;
}

/**
 * Hands a queued job to the workers. A queue that cannot take it ends the job
 * as failed (said in its messages) and throws, so the requester hears it.
 */
export async function queueJob(sql: Sql, queue: JobQueue, job: Job, publicUrl: string, log: Logger): Promise<void> {
  try {
    await queue.enqueue(job.id);
  } catch (err) {
    log.error({ err, job: job.id }, "job could not be queued");
    const t = translator(job.lang);
    await endJob(sql, job.id, "failed", SYSTEM, publicUrl, { error: t("publish.not_run", { reason: t("publish.queue_unavailable") }) });
    throw new TestumError("conflict", msg("publish.job_not_run", { id: job.id, reason: msg("publish.queue_unavailable") }), { cause: err });
  }
}

export const SYSTEM: Cause = { actor: "system" };

/** The one shape of a job's end in the audit log. */
function jobEndAudit(job: Job, cause: Cause, detail: Record<string, unknown> = {}): AuditEntry {
  return {
    actor: cause.actor,
    actorName: cause.actorName,
    channel: job.conversation,
    action: "job.end",
    target: job.target,
    outcome: job.status,
    detail: { job: job.id, ...detail },
  };
}

/**
 * The one place a job's end is recorded: `transition` ends jobs (changes
 * their rows, in a transaction) and returns them; each one's `job.end` audit
 * record is written in the same transaction. Returns the jobs it ended.
 */
async function ending(sql: Sql, transition: (tx: Sql) => Promise<readonly Job[]>, why: (job: Job) => { cause: Cause; detail?: Record<string, unknown> }): Promise<Job[]> {
  const ended = await transaction(sql, async (tx) => {
    const jobs = await transition(tx);
    await appendAudits(
      tx,
      jobs.map((job) => {
        const { cause, detail } = why(job);
        return jobEndAudit(job, cause, detail);
      }),
    );
    return jobs;
  });
  if (ended.length > 0) chainSoon(sql);
  return [...ended];
}

/**
 * Ends a job that is queued or running. Shows it in its messages when given
 * `publicUrl` (the worker shows the end itself, with the final output).
 * Returns the ended job, or nothing when it had already ended.
 */
export async function endJob(
  sql: Sql,
  jobId: number,
  status: JobStatus,
  cause: Cause,
  publicUrl: string | undefined,
  options: { error?: string; detail?: Record<string, unknown> } = {},
): Promise<Job | undefined> {
  const [job] = await ending(
    sql,
    async (tx) => {
      const ended = await finishJob(tx, jobId, status, options.error);
      return ended ? [ended] : [];
    },
    (job) => ({ cause, detail: { ...(options.error ? { reason: options.error } : {}), ...(job.cancelledBy ? { cancelledBy: job.cancelledBy } : {}), ...options.detail } }),
  );
  if (job && publicUrl !== undefined) await refreshJobMessages(sql, jobId, publicUrl);
  return job;
}

/**
 * A cancel: a job that has not started ends here (returns it); a running one
 * is marked for its worker to stop ("stopping").
 */
export async function cancelJobRequest(sql: Sql, jobId: number, by: string, cause: Cause): Promise<{ result: "cancelled" | "stopping" | "already_ended"; ended?: Job }> {
  let outcome: Awaited<ReturnType<typeof requestCancel>> = { result: "already_ended" };
  await ending(
    sql,
    async (tx) => {
      outcome = await requestCancel(tx, jobId, by);
      return outcome.ended ? [outcome.ended] : [];
    },
    () => ({ cause, detail: { cancelledBy: by } }),
  );
  return outcome;
}

/** A job waiting for approval is rejected (`reason` is the error it shows). Returns it, or nothing when it was not waiting any more. */
export async function rejectJob(sql: Sql, jobId: number, reason: string, cause: Cause, detail: Record<string, unknown>): Promise<Job | undefined> {
  const [job] = await ending(
    sql,
    async (tx) => {
      const ended = await rejectWaitingJob(tx, jobId, reason);
      return ended ? [ended] : [];
    },
    () => ({ cause, detail }),
  );
  return job;
}

/** Running jobs whose worker stopped sending heartbeats end as lost; requests nobody decided in time, as expired. */
export async function reapJobs(sql: Sql, staleAfterMs: number): Promise<{ lost: Job[]; expired: Job[] }> {
  const lost = await ending(
    sql,
    (tx) => reapLostJobs(tx, staleAfterMs),
    (job) => ({ cause: SYSTEM, detail: { worker: job.worker } }),
  );
  const expired = await ending(
    sql,
    (tx) => expireApprovals(tx),
    () => ({ cause: SYSTEM }),
  );
  return { lost, expired };
}

/** Says something in the job's thread (once per `name`; a newer text replaces the older). */
export async function noteInThread(sql: Sql, jobId: number, name: string, view: View): Promise<void> {
  await addThreadMessage(sql, jobId, `note:${name}` as Slot, view);
}
