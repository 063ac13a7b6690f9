import { listDecisions, renderRequest, requestLang, type Decision } from "../access/approvals.js";
import type { View } from "../chat/chat.js";
import type { Sql } from "../db.js";
import { renderSummary } from "./fanout.js";
import { translator } from "../chat/i18n.js";
import { renderLive, renderParent } from "../chat/job-view.js";
import { FINAL_STATUSES, getJob, listTasks, type Job, type Task } from "./jobs.js";
import { truncate } from "./tail.js";
import { setViews, type NewMessage, type Slot } from "./outbox.js";

/**
 * How a job's messages look in each state, and the one way they are brought
 * up to date: reload the job and its tasks, render, record for delivery.
 * While a job runs its worker keeps the live message (and the parent's
 * progress) current itself; every other state is rendered here.
 */

/** "web-1", or "3 hosts". */
function label(job: Job, tasks: readonly Task[]): string {
  return tasks.length === 1 ? tasks[0]!.hostName : translator(job.lang)("view.n_hosts", { count: tasks.length });
}

/** The live message of a job that is not running: waiting, never started, or lost with what its hosts last said. */
function liveAtRest(job: Job, tasks: readonly Task[], publicUrl: string): View {
  const t = translator(job.lang);
  if (job.startedAt && tasks.length > 1) return renderSummary(job, tasks, publicUrl, t);
  if (job.startedAt && tasks.length === 1) {
    const task = tasks[0]!;
    const lines = (task.tail ?? "").split("\n").filter((l, i, all) => l !== "" || i < all.length - 1);
    const status = job.status === "lost" ? "lost" : task.status;
    return renderLive(
      job,
      task.hostName,
      { lines, omitted: Math.max(0, (task.logLines ?? 0) - lines.length), lineCount: task.logLines ?? lines.length, status, updatedAt: Date.now() },
      publicUrl,
      t,
    );
  }
  return renderLive(job, label(job, tasks), { lines: [], omitted: 0, lineCount: 0, status: job.status, updatedAt: Date.now() }, publicUrl, t);
}

/**
 * Every view of the job as it is now (`note`: said under the approval
 * request, in its language: see requestLang). Once a job is queued its worker owns the parent until the end,
 * unless `all` (a new job's first views).
 */
export function renderJobViews(job: Job, tasks: readonly Task[], decisions: readonly Decision[], publicUrl: string, note?: string, all = false): Partial<Record<Slot, View>> {
  const t = translator(job.lang);
  const views: Partial<Record<Slot, View>> = {};
  if (all || (job.status !== "queued" && job.status !== "running")) views.parent = renderParent(job, tasks, publicUrl, t);
  // A running job's live message is its worker's; a job that ran and ended has its final one from the worker too.
  if (job.status !== "running" && (!job.startedAt || job.status === "lost")) views.live = liveAtRest(job, tasks, publicUrl);
  if (job.approvalHash !== null)
    views.approval = renderRequest(
      job,
      tasks.map((task) => task.hostName),
      decisions,
      translator(requestLang(job)),
      note,
      publicUrl,
    );
  return views;
}

/** The messages a new job starts with: its parent, the live message, and the approval request when it waits for one. */
export function initialMessages(job: Job, tasks: readonly Task[], publicUrl: string): NewMessage[] {
  const views = renderJobViews(job, tasks, [], publicUrl, undefined, true);
  const title = truncate(`#${job.id} ${label(job, tasks)}: ${job.command.split("\n")[0]}`, 100);
  const messages: NewMessage[] = [
    { slot: "parent", view: views.parent!, title },
    { slot: "live", view: views.live! },
  ];
  if (views.approval) messages.push({ slot: "approval", view: views.approval });
  return messages;
}

/** Reloads the job and brings each of its messages up to date (the one place this is done). */
export async function refreshJobMessages(sql: Sql, jobId: number, publicUrl: string, note?: string): Promise<Job> {
  const job = await getJob(sql, jobId);
  const [tasks, decisions] = await Promise.all([listTasks(sql, jobId), job.approvalHash !== null ? listDecisions(sql, jobId) : Promise.resolve([])]);
  await setViews(sql, jobId, renderJobViews(job, tasks, decisions, publicUrl, note), FINAL_STATUSES.includes(job.status));
  return job;
}
