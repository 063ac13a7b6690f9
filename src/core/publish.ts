import { renderRequest } from "./approvals.js";
import { recordAudit } from "./audit.js";
import type { ChatDirectory } from "./chat.js";
import type { Sql } from "./db.js";
import { isTestumError, TestumError } from "./errors.js";
import type { Host } from "./hosts.js";
import { english, msg, say, translator, type Param } from "./i18n.js";
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
  const t = translator(job.lang);
  const label = hosts.length === 1 ? hosts[0]!.name : t("view.n_hosts", { count: hosts.length });
  let parent: string | undefined;
  try {
    const tasks = await listTasks(sql, job.id);
    const start = await chat.startThread(job.conversation, renderParent(job, tasks, ctx.publicUrl, t), truncate(`#${job.id} ${label}: ${job.command}`, 100));
    parent = start.message;
    const live = await chat.post(
      start.thread,
      renderLive(job, label, { lines: [], omitted: 0, lineCount: 0, status: "queued", updatedAt: Date.now() }, ctx.publicUrl, t),
    );
    await setChatRefs(sql, job.id, { thread: start.thread, parentMessage: start.message, liveMessage: live });
    if (job.status === "awaiting_approval") {
      const request = await chat.post(start.thread, renderRequest(job, hosts.map((h) => h.name), [], t));
      await sql`update jobs set approval_message = ${request} where id = ${job.id}`;
    } else {
      await ctx.queue.enqueue(job.id);
    }
  } catch (err) {
    const why: Param = isTestumError(err) ? (err.key ? msg(err.key, err.params) : err.message) : msg("publish.queue_unavailable");
    log.error({ err, job: job.id }, "job could not be published");
    await finishJob(sql, job.id, "failed", t("publish.not_run", { reason: say(t, why) }));
    await recordAudit(sql, { actor: "system", action: "job.end", target: job.target, outcome: "failed", channel: job.conversation, detail: { job: job.id, reason: say(english, why) } });
    if (parent) {
      const failed = await getJob(sql, job.id);
      await chat.edit(parent, renderParent(failed, await listTasks(sql, job.id), ctx.publicUrl, t)).catch(() => {});
    }
    throw new TestumError("chat_unavailable", msg("publish.job_not_run", { id: job.id, reason: why }), { cause: err });
  }
}

