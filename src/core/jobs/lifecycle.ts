import { appendAudits, chainPendingAudits, recordAudit, type AuditEntry } from "../audit.js";
import { transaction, type Sql } from "../db.js";
import { insertJobAndTasks, finishJob, getJob, type Job, type JobStatus, type NewJob } from "../jobs.js";
import { addMessages, addThreadMessage, type Slot } from "./outbox.js";
import { initialMessages, refreshJobMessages } from "./messages.js";
import type { View } from "../chat.js";
import { TestumError } from "../errors.js";
import { msg, translator } from "../i18n.js";
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
 * end whether to say anything), in one transaction.
 */
export async function requestJob(sql: Sql, input: NewJob, audit: AuditEntry | undefined, publicUrl: string, quiet = false): Promise<Job> {
  const job = await transaction(sql, async (tx) => {
    const { job, tasks } = await insertJobAndTasks(tx, input);
    // Sent together (one round trip): the answer to the command waits for this transaction.
    await Promise.all([
      quiet ? undefined : addMessages(tx, job.id, job.conversation, initialMessages(job, tasks, publicUrl)),
      // Recorded with the job, without waiting for other requests' audit records.
      audit ? appendAudits(tx, [{ ...audit, detail: { job: job.id, ...audit.detail } }]) : undefined,
    ]);
    return job;
  });
  // Its place in the audit chain comes right after; should that fail, the next audit record takes it along.
  void chainPendingAudits(sql).catch(() => {});
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
export function jobEndAudit(job: Job, cause: Cause, outcome: JobStatus, detail: Record<string, unknown> = {}): AuditEntry {
  return {
    actor: cause.actor,
    actorName: cause.actorName,
    channel: job.conversation,
    action: "job.end",
    target: job.target,
    outcome,
    detail: { job: job.id, ...detail },
  };
}

/**
 * Ends a job that is queued or running, with its audit record, and shows it
 * in its messages. Returns false when it had already ended.
 */
export async function endJob(
  sql: Sql,
  jobId: number,
  status: JobStatus,
  cause: Cause,
  publicUrl: string,
  options: { error?: string; detail?: Record<string, unknown> } = {},
): Promise<boolean> {
  if (!(await finishJob(sql, jobId, status, options.error))) return false;
  const job = await getJob(sql, jobId);
  await recordAudit(sql, jobEndAudit(job, cause, status, { ...(options.error ? { reason: options.error } : {}), ...options.detail }));
  await refreshJobMessages(sql, jobId, publicUrl);
  return true;
}

/** Says something in the job's thread (once per `name`; a newer text replaces the older). */
export async function noteInThread(sql: Sql, jobId: number, name: string, view: View): Promise<void> {
  await addThreadMessage(sql, jobId, `note:${name}` as Slot, view);
}
