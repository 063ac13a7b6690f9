import { can, requireOnHosts } from "../access.js";
import { recordAudit } from "../audit.js";
import type { Reply } from "../chat.js";
import { formatDuration } from "../duration.js";
import { TestumError } from "../errors.js";
import { compactNames, countsLine, countTasks, groupResults, reportUrl } from "../fanout.js";
import { getHostById, type Host } from "../hosts.js";
import { logUrl, renderParent } from "../job-view.js";
import { getJob, listTasks, recentJobs, requestCancel, type Job } from "../jobs.js";
import { listing, privateReply, privateText } from "../replies.js";
import type { Handler, HandlerContext } from "./context.js";

async function hostsOf(ctx: HandlerContext, job: Job): Promise<Host[]> {
  const tasks = await listTasks(ctx.sql, job.id);
  const hosts = await Promise.all(tasks.map((t) => (t.hostId === null ? undefined : getHostById(ctx.sql, t.hostId))));
  return hosts.filter((h): h is Host => h !== undefined);
}

/** A job is visible to whoever may view every host it ran on. */
async function visibleJob(ctx: HandlerContext, id: number): Promise<Job> {
  const job = await getJob(ctx.sql, id);
  requireOnHosts(await ctx.principal(), "view", await hostsOf(ctx, job));
  return job;
}

/** Stops a job for the person who started it, or an admin of every host it runs on. */
export async function cancelJob(ctx: HandlerContext, jobId: number): Promise<Reply> {
  const principal = await ctx.principal();
  const job = await getJob(ctx.sql, jobId);
  if (principal.actor.id !== job.requestedBy) {
    try {
      requireOnHosts(principal, "admin", await hostsOf(ctx, job));
    } catch (err) {
      await ctx.audit("job.cancel", "refused", job.target, { job: job.id, reason: (err as Error).message });
      throw new TestumError("not_allowed", `only the person who started job #${job.id}, or an admin of its hosts, can cancel it`);
    }
  }
  const by = principal.actor.name ?? principal.actor.id;
  const result = await requestCancel(ctx.sql, job.id, by);
  await ctx.audit("job.cancel", result, job.target, { job: job.id });
  if (result === "already_ended") return privateText(`Job #${job.id} already ended (${job.status.replace("_", " ")}); nothing to cancel.`);
  if (result === "stopping") {
    await ctx.cancels.publish(job.id).catch((err: unknown) => ctx.log.warn({ err }, "cancel could not be published; the worker sees it at its next heartbeat"));
    return privateText(`🛑 Cancelling job #${job.id}: its remote commands get TERM, then KILL. The thread shows when it has stopped.`, "warning");
  }
  // It had not started: nothing runs, and the messages say so now.
  const ended = await getJob(ctx.sql, job.id);
  if (ended.parentMessage) ctx.messages.show(ended.parentMessage, renderParent(ended, await listTasks(ctx.sql, job.id), ctx.settings.publicUrl));
  await recordAudit(ctx.sql, { actor: principal.actor.id, channel: job.conversation, action: "job.end", target: job.target, outcome: "cancelled", detail: { job: job.id } });
  return privateText(`🛑 Job #${job.id} was cancelled before it started; nothing ran.`, "warning");
}

export const cancel: Handler<"cancel"> = (ctx, _event, cmd) => cancelJob(ctx, cmd.job);

export const jobsList: Handler<"jobs.list"> = async (ctx, event) => {
  const principal = await ctx.principal();
  const jobs = await recentJobs(ctx.sql, event.conversation, 15);
  const lines: string[] = [];
  for (const job of jobs) {
    const hosts = await hostsOf(ctx, job);
    if (!hosts.every((h) => can(principal, "view", h))) continue;
    const when = job.createdAt.toISOString().slice(5, 16).replace("T", " ");
    lines.push(`#${String(job.id).padEnd(5)} ${job.status.padEnd(17)} ${when}  ${job.target.padEnd(16)} ${(job.requestedByName ?? job.requestedBy).padEnd(14)} ${job.command.split("\n")[0]!.slice(0, 60)}`);
  }
  if (lines.length === 0) return privateText("No jobs in this channel yet (that you may see).");
  return privateReply(listing("Recent jobs in this channel", lines, "/testum jobs show ID for a job's results; /testum logs ID for its logs."));
};

export const jobsShow: Handler<"jobs.show"> = async (ctx, _event, cmd) => {
  const job = await visibleJob(ctx, cmd.job);
  const tasks = await listTasks(ctx.sql, job.id);
  const lines = [
    `status:    ${job.status.replace("_", " ")}${job.error ? ` (${job.error.split("\n")[0]})` : ""}`,
    `command:   ${job.command.split("\n")[0]!.slice(0, 200)}${job.kind === "script" ? " (script)" : ""}`,
    `target:    ${job.target} (${tasks.length} host${tasks.length === 1 ? "" : "s"})`,
    `requested: ${job.requestedByName ?? job.requestedBy} at ${job.createdAt.toISOString().slice(0, 19).replace("T", " ")} UTC`,
    `hosts:     ${countsLine(countTasks(tasks))}`,
    "",
  ];
  for (const group of groupResults(tasks).slice(0, 10)) {
    const what = group.status === "failed" && group.exitCode !== null ? `exit ${group.exitCode}` : group.status.replace("_", " ");
    lines.push(`${what.padEnd(12)} ${compactNames(group.hosts)}`);
  }
  if (job.startedAt && job.finishedAt) lines.push("", `took ${formatDuration(job.finishedAt.getTime() - job.startedAt.getTime())}`);
  const reply = listing(`Job #${job.id}`, lines);
  const links = tasks.length === 1 ? [{ label: "Full log", url: logUrl(ctx.settings.publicUrl, job) }] : [{ label: "Full report", url: reportUrl(ctx.settings.publicUrl, job) }];
  return privateReply({ ...reply, blocks: [...reply.blocks, { type: "links", links }] });
};

export const logs: Handler<"logs"> = async (ctx, _event, cmd) => {
  const job = await visibleJob(ctx, cmd.job);
  const tasks = await listTasks(ctx.sql, job.id);
  if (cmd.host && !tasks.some((t) => t.hostName === cmd.host)) throw new TestumError("invalid_input", `job #${job.id} did not run on ${cmd.host}`);
  const chosen = cmd.host ? tasks.filter((t) => t.hostName === cmd.host) : tasks.slice(0, 20);
  const links = chosen.map((t) => ({ label: `${t.hostName} (${t.status.replace("_", " ")})`, url: logUrl(ctx.settings.publicUrl, job, t.hostName) }));
  if (!cmd.host && tasks.length > 1) links.unshift({ label: "Full report", url: reportUrl(ctx.settings.publicUrl, job) });
  const more = !cmd.host && tasks.length > chosen.length ? `${tasks.length - chosen.length} more hosts are linked from the full report.` : "Links keep working; each opens a fresh download link.";
  return privateReply({ text: `Logs of job #${job.id}`, blocks: [{ type: "heading", text: `Logs of job #${job.id}` }, { type: "links", links }, { type: "context", text: more }] });
};
