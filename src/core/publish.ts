import { renderRequest } from "./approvals.js";
import { recordAudit } from "./audit.js";
import type { ChatDirectory } from "./chat.js";
import type { Sql } from "./db.js";
import { isTestumError, TestumError } from "./errors.js";
import type { Host } from "./hosts.js";
import { renderLive, renderParent } from "./job-view.js";
import { finishJob, getJob, listTasks, setChatRefs, type Job } from "./jobs.js";
import type { JobQueue, Logger } from "./ports.js";
import { truncate } from "./tail.js";

export interface PublishDeps {
  readonly sql: Sql;
  readonly chat: ChatDirectory;
  readonly queue: JobQueue;
  readonly log: Logger;
  readonly publicUrl: string;
}

/**
 * Posts the job's parent and live messages, then queues it, or, when it
 * needs approval, posts the request with its buttons instead.
 */
export async function publish(ctx: PublishDeps, job: Job, hosts: readonly Host[]): Promise<void> {
  const { sql, log } = ctx;
  const chat = ctx.chat.adapterFor(job.conversation);
  const label = hosts.length === 1 ? hosts[0]!.name : `${hosts.length} hosts`;
  let parent: string | undefined;
  try {
    const tasks = await listTasks(sql, job.id);
    const start = await chat.startThread(job.conversation, renderParent(job, tasks, ctx.publicUrl), truncate(`#${job.id} ${label}: ${job.command}`, 100));
    parent = start.message;
    const live = await chat.post(
      start.thread,
      renderLive(job, label, { lines: [], omitted: 0, lineCount: 0, status: "queued", updatedAt: Date.now() }, ctx.publicUrl),
    );
    await setChatRefs(sql, job.id, { thread: start.thread, parentMessage: start.message, liveMessage: live });
    if (job.status === "awaiting_approval") {
      const request = await chat.post(start.thread, renderRequest(job, hosts.map((h) => h.name), []));
      await sql`update jobs set approval_message = ${request} where id = ${job.id}`;
    } else {
      await ctx.queue.enqueue(job.id);
    }
  } catch (err) {
    const reason = isTestumError(err) ? err.message : "the job could not be queued (the job queue is unavailable)";
    log.error({ err, job: job.id }, "job could not be published");
    await finishJob(sql, job.id, "failed", `not run: ${reason}`);
    await recordAudit(sql, { actor: "system", action: "job.end", target: job.target, outcome: "failed", channel: job.conversation, detail: { job: job.id, reason } });
    if (parent) {
      const failed = await getJob(sql, job.id);
      await chat.edit(parent, renderParent(failed, await listTasks(sql, job.id), ctx.publicUrl)).catch(() => {});
    }
    throw new TestumError("chat_unavailable", `job #${job.id} was not run: ${reason}`, { cause: err });
  }
}

