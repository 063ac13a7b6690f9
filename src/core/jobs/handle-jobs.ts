import { can, canEverywhere } from "../access/access.js";
import { jobHosts } from "../access/authorize.js";
import { displayName, type Reply } from "../chat/chat.js";
import { formatDuration } from "../duration.js";
import { TestumError } from "../errors.js";
import { compactNames, countsLine, countTasks, groupResults, reportUrl } from "./fanout.js";
import { msg } from "../chat/i18n.js";
import { logUrl } from "../chat/job-view.js";
import { getJob, listTasks, recentJobs, type Job } from "./jobs.js";
import { cancelJobRequest } from "./lifecycle.js";
import { refreshJobMessages } from "./messages.js";
import { linkState } from "./links.js";
import { listing, privateReply, privateText } from "../chat/replies.js";
import { truncate } from "./tail.js";
import type { Handler, HandlerContext } from "../commands/handler-context.js";
import { formatTime, formatTimeAgo } from "../chat/time.js";

/** Stops a job: authorised before (its requester, or an admin of every host it runs on). */
export async function cancelJob(ctx: HandlerContext, job: Job): Promise<Reply> {
  const principal = await ctx.principal();
  const by = displayName(principal.actor.name, principal.actor.id);
  const { result } = await cancelJobRequest(ctx.sql, job.id, by, { actor: principal.actor.id, actorName: principal.actor.name });
  await ctx.audit("job.cancel", result, job.target, { job: job.id });
  if (result === "already_ended") return privateText(ctx.t("jobs.already_ended", { id: job.id, status: msg(`status.${job.status}`) }));
  if (result === "stopping") {
    await ctx.cancels.publish(job.id).catch((err: unknown) => ctx.log.warn({ err }, "cancel could not be published; the worker sees it at its next heartbeat"));
    return privateText(ctx.t("jobs.cancelling", { id: job.id }), "warning");
  }
  // It had not started: nothing runs, and the messages say so (the request loses its buttons too).
  await refreshJobMessages(ctx.sql, job.id, ctx.settings.publicUrl);
  return privateText(ctx.t("jobs.cancelled_before_start", { id: job.id }), "warning");
}

export const cancel: Handler<"cancel"> = (ctx, _event, _cmd, scope) => cancelJob(ctx, scope.job!);

export const jobsList: Handler<"jobs.list"> = async (ctx, event) => {
  const principal = await ctx.principal();
  const jobs = await recentJobs(ctx.sql, event.conversation, 15);
  const lines: string[] = [];
  // One job in two short lines (number, state, time, who; then target and command), so no platform needs to scroll sideways.
  const width = Math.max(0, ...jobs.map((job) => String(job.id).length)) + 3;
  for (const job of jobs) {
    const { hosts, removed } = await jobHosts(ctx, job);
    if (!hosts.every((h) => can(principal, "view", h)) || (removed.length > 0 && !canEverywhere(principal, "view"))) continue;
    const who = job.requestedByName ?? job.requestedBy;
    lines.push(`${`#${job.id}`.padEnd(width)}${ctx.t(`state.${job.status}`)} · ${formatTime(job.createdAt)} · ${who}`);
    lines.push(`${" ".repeat(width)}${job.target}: ${truncate(job.command.split("\n")[0]!, 80)}`);
  }
  if (lines.length === 0) return privateText(ctx.t("jobs.none"));
  return privateReply(listing(ctx.t("jobs.recent"), lines, ctx.t("jobs.list_footer"), { wrap: true }));
};

export const jobsShow: Handler<"jobs.show"> = async (ctx, _event, _cmd, scope) => {
  const job = scope.job!;
  const tasks = await listTasks(ctx.sql, job.id);
  const { t } = ctx;
  const status = msg(`status.${job.status}`);
  const command = job.command.split("\n")[0]!.slice(0, 200);
  const lines = [
    job.error ? t("jobs.show.status_error", { status, error: job.error.split("\n")[0]! }) : t("jobs.show.status", { status }),
    t(job.kind === "script" ? "jobs.show.command_script" : "jobs.show.command", { command }),
    t("jobs.show.target", { target: job.target, count: tasks.length }),
    t("jobs.show.requested", { who: displayName(job.requestedByName, job.requestedBy), at: formatTimeAgo(job.createdAt, t) }),
    t("jobs.show.hosts", { counts: countsLine(countTasks(tasks), t) }),
    "",
  ];
  for (const group of groupResults(tasks).slice(0, 10)) {
    const what = group.status === "failed" && group.exitCode !== null ? t("summary.exit", { code: group.exitCode }) : t(`status.${group.status}`);
    lines.push(`${what.padEnd(12)} ${compactNames(group.hosts)}`);
  }
  if (job.startedAt && job.finishedAt) lines.push("", t("jobs.show.took", { duration: formatDuration(job.finishedAt.getTime() - job.startedAt.getTime(), t.lang) }));
  const closed = closedLinks(ctx, job);
  if (closed) lines.push("", closed);
  const reply = listing(t("jobs.show.title", { id: job.id }), lines, undefined, { wrap: true });
  if (closed) return privateReply(reply);
  const links =
    tasks.length === 1
      ? [{ label: t("link.full_log"), url: logUrl(ctx.settings.publicUrl, job) }]
      : [{ label: t("link.full_report"), url: reportUrl(ctx.settings.publicUrl, job) }];
  return privateReply({ ...reply, blocks: [...reply.blocks, { type: "links", links }] });
};

/** Says why a job's links no longer open, or nothing while they do. */
function closedLinks(ctx: HandlerContext, job: Job): string | undefined {
  const state = linkState(job, ctx.settings.linkTtlMs);
  if (state.open) return undefined;
  const at = formatTime(state.at);
  return state.why === "revoked" ? ctx.t("jobs.links_revoked", { id: job.id, by: state.by, at }) : ctx.t("jobs.links_expired", { id: job.id, at });
}

/**
 * Revokes a job's links (logs, report, job page): from now on they answer
 * 410. Its requester or an admin of every host it ran on (checked before).
 */
export const jobsRevokeLinks: Handler<"jobs.revoke-links"> = async (ctx, _event, _cmd, scope) => {
  const job = scope.job!;
  const principal = await ctx.principal();
  const by = displayName(principal.actor.name, principal.actor.id);
  const revoked = await ctx.sql`
    update jobs set links_revoked_at = now(), links_revoked_by = ${by} where id = ${job.id} and links_revoked_at is null returning id`;
  // Revoked already (perhaps a moment ago, by someone else): say by whom and when.
  if (revoked.length === 0) return privateText(closedLinks(ctx, await getJob(ctx.sql, job.id))!);
  await ctx.audit("job.revoke_links", "revoked", job.target, { job: job.id });
  return privateText(ctx.t("jobs.you_revoked_links", { id: job.id }), "success");
};

export const logs: Handler<"logs"> = async (ctx, _event, cmd, scope) => {
  const job = scope.job!;
  const closed = closedLinks(ctx, job);
  if (closed) return privateText(closed, "warning");
  const tasks = await listTasks(ctx.sql, job.id);
  const { t } = ctx;
  if (cmd.host && !tasks.some((task) => task.hostName === cmd.host)) throw new TestumError("invalid_input", msg("jobs.not_on_host", { id: job.id, host: cmd.host }));
  const chosen = cmd.host ? tasks.filter((task) => task.hostName === cmd.host) : tasks.slice(0, 20);
  const links = chosen.map((task) => ({
    label: t("jobs.logs.link", { host: task.hostName, status: msg(`status.${task.status}`) }),
    url: logUrl(ctx.settings.publicUrl, job, task.hostName),
  }));
  if (!cmd.host && tasks.length > 1) links.unshift({ label: t("link.full_report"), url: reportUrl(ctx.settings.publicUrl, job) });
  const more = !cmd.host && tasks.length > chosen.length ? t("jobs.logs.more", { count: tasks.length - chosen.length }) : t("jobs.logs.keep");
  const title = t("jobs.logs.title", { id: job.id });
  return privateReply({
    text: title,
    blocks: [
      { type: "heading", text: title },
      { type: "links", links },
      { type: "context", text: more },
    ],
  });
};
