import { recordAudit } from "../audit.js";
import type { Reply } from "../chat.js";
import { isTestumError, TestumError } from "../errors.js";
import { getHost } from "../hosts.js";
import { renderLive, renderParent } from "../job-view.js";
import { createJob, finishJob, getJob, listTasks, setChatRefs, type Job } from "../jobs.js";
import { privateText } from "../replies.js";
import { truncate } from "../tail.js";
import type { Handler, HandlerContext } from "./context.js";

/** Posts the job's parent and live messages, then queues it. */
async function publish(ctx: HandlerContext, job: Job, hostName: string): Promise<void> {
  const { sql, settings, log } = ctx;
  const chat = ctx.chat.adapterFor(job.conversation);
  let parent: string | undefined;
  try {
    const tasks = await listTasks(sql, job.id);
    const start = await chat.startThread(job.conversation, renderParent(job, tasks, settings.publicUrl), truncate(`#${job.id} ${hostName}: ${job.command}`, 100));
    parent = start.message;
    const live = await chat.post(
      start.thread,
      renderLive(job, hostName, { lines: [], omitted: 0, lineCount: 0, status: "queued", updatedAt: Date.now() }, settings.publicUrl),
    );
    await setChatRefs(sql, job.id, { thread: start.thread, parentMessage: start.message, liveMessage: live });
    await ctx.queue.enqueue(job.id);
  } catch (err) {
    const reason = isTestumError(err) ? err.message : "the job could not be queued (the job queue is unavailable)";
    log.error({ err, job: job.id }, "job could not be published");
    await finishJob(sql, job.id, "failed", `not run: ${reason}`);
    await recordAudit(sql, { actor: "system", action: "job.end", target: hostName, outcome: "failed", channel: job.conversation, detail: { job: job.id, reason } });
    if (parent) {
      const failed = await getJob(sql, job.id);
      await chat.edit(parent, renderParent(failed, await listTasks(sql, job.id), settings.publicUrl)).catch(() => {});
    }
    throw new TestumError("chat_unavailable", `job #${job.id} was not run: ${reason}`, { cause: err });
  }
}

export const run: Handler<"run"> = async (ctx, event, cmd): Promise<Reply> => {
  let host;
  try {
    host = await getHost(ctx.sql, cmd.target);
  } catch (err) {
    await ctx.audit("job.request", "refused", cmd.target, { reason: (err as Error).message, command: cmd.command });
    throw err;
  }
  const job = await createJob(ctx.sql, {
    command: cmd.command,
    target: cmd.target,
    hosts: [{ id: host.id, name: host.name }],
    requestedBy: event.actor.id,
    requestedByName: event.actor.name,
    conversation: event.conversation,
    timeoutMs: cmd.timeoutMs ?? ctx.settings.jobTimeoutMs,
  });
  await ctx.audit("job.request", "accepted", host.name, { job: job.id, command: cmd.command });
  await publish(ctx, job, host.name);
  return privateText(`✅ Job #${job.id} queued on ${host.name}. Output follows in the thread.`, "success");
};
