import { canEverywhere, requireOnHosts } from "../access.js";
import { encodeAction } from "../actions.js";
import { approvalHash } from "../approvals.js";
import type { Block, Reply, View } from "../chat.js";
import { NotAllowedError, TestumError } from "../errors.js";
import { compactNames } from "../fanout.js";
import { listing, privateReply, privateText } from "../replies.js";
import { listRiskPatterns, riskReasons } from "../risk.js";
import { fireSchedule, scheduleOptions, type SchedulerDeps } from "../scheduler.js";
import { describeCron, getSchedule, listSchedules, nextRuns, validateCron, validateTimezone, type Schedule } from "../schedules.js";
import { resolveTarget } from "../targets.js";
import type { Handler, HandlerContext } from "./context.js";

const when = (d: Date | undefined | null) => (d ? `${d.toISOString().slice(0, 19).replace("T", " ")} UTC` : "never");

export function schedulerDeps(ctx: HandlerContext): SchedulerDeps {
  return {
    sql: ctx.sql,
    chat: ctx.chat,
    queue: ctx.queue,
    log: ctx.log,
    publicUrl: ctx.settings.publicUrl,
    admins: ctx.settings.admins,
    approvalHosts: ctx.settings.approvalHosts,
    processName: "chat",
    catchUp: false,
  };
}

/** The request in the channel for a risky schedule. */
export function renderScheduleRequest(schedule: Schedule, hosts: readonly string[], note?: string): View {
  const blocks: Block[] = [
    {
      type: "heading",
      text:
        schedule.approvalState === "pending"
          ? `🔐 Approval needed for scheduled report "${schedule.name}" (#${schedule.id})`
          : schedule.approvalState === "approved"
            ? `✅ Scheduled report "${schedule.name}" (#${schedule.id}) approved by ${schedule.approvedBy}`
            : `🚫 Scheduled report "${schedule.name}" (#${schedule.id}) rejected`,
    },
    {
      type: "fields",
      fields: [
        { label: "Owner", value: schedule.ownerName ?? schedule.owner },
        { label: "Command", value: schedule.command.slice(0, 900) },
        { label: `Hosts (${hosts.length})`, value: compactNames(hosts) },
        { label: "When", value: `${describeCron(schedule.cron)} (${schedule.timezone})` },
        { label: "Why approval is needed", value: schedule.approvalReasons.join("\n") || "—" },
      ],
    },
  ];
  if (note) blocks.push({ type: "text", text: note });
  if (schedule.approvalState === "pending") {
    blocks.push({ type: "context", text: "An approver of every target host, other than the owner, approves it once; the approval covers the schedule until it changes." });
    blocks.push({
      type: "actions",
      buttons: [
        { label: "Approve", action: encodeAction({ kind: "schedule-approve", schedule: schedule.id }), style: "primary" },
        { label: "Reject", action: encodeAction({ kind: "schedule-reject", schedule: schedule.id }), style: "danger" },
      ],
    });
  }
  return { text: `Scheduled report "${schedule.name}"`, tone: schedule.approvalState === "rejected" ? "failure" : "warning", blocks };
}

export const scheduleAdd: Handler<"schedule.add"> = async (ctx, event, cmd): Promise<Reply> => {
  validateCron(cmd.cron);
  const timezone = cmd.timezone ?? "UTC";
  validateTimezone(timezone);
  const hosts = await resolveTarget(ctx.sql, cmd.target);
  requireOnHosts(await ctx.principal(), "run", hosts);
  const timeoutMs = cmd.timeoutMs ?? ctx.settings.jobTimeoutMs;
  const reasons = riskReasons(cmd.command, hosts, await listRiskPatterns(ctx.sql), { maxHostsWithoutApproval: ctx.settings.approvalHosts });
  const name = cmd.label ?? cmd.command.split(/\s+/).slice(0, 3).join(" ").slice(0, 40);
  const [schedule] = await ctx.sql<Schedule[]>`
    insert into schedules (name, cron, timezone, target, command, channel, owner, owner_name, owner_groups, on_change, timeout_ms,
                           approval_state, approval_reasons)
    values (${name}, ${cmd.cron.trim()}, ${timezone}, ${cmd.target}, ${cmd.command}, ${event.conversation}, ${event.actor.id},
            ${event.actor.name ?? null}, ${ctx.sql.json([...event.actor.groups] as never)}, ${cmd.onChange ?? false}, ${timeoutMs},
            ${reasons.length ? "pending" : "none"}, ${ctx.sql.json(reasons as never)})
    returning *`;
  await ctx.audit("schedule.add", reasons.length ? "approval_required" : "added", cmd.target, { schedule: schedule!.id, cron: cmd.cron, command: cmd.command, timezone });
  const next = nextRuns(schedule!.cron, timezone, 1)[0];
  const words = `${describeCron(schedule!.cron)} (${timezone}), on ${compactNames(hosts.map((h) => h.name))}${cmd.onChange ? ", posting only when the output changes" : ""}`;
  if (reasons.length === 0) {
    return privateText(`🕒 Schedule #${schedule!.id} "${name}": ${words}. Next run ${when(next)}. Reports go to this channel.`, "success");
  }
  const request = await ctx.chat.adapterFor(event.conversation).startThread(event.conversation, renderScheduleRequest(schedule!, hosts.map((h) => h.name)), `schedule ${name}`);
  await ctx.sql`update schedules set approval_message = ${request.message} where id = ${schedule!.id}`;
  return privateText(`🔐 Schedule #${schedule!.id} "${name}" (${words}) needs approval before it runs: ${reasons.join("; ")}. The request is in the channel.`, "warning");
};

export const scheduleList: Handler<"schedule.list"> = async (ctx, event) => {
  const schedules = await listSchedules(ctx.sql, event.conversation);
  if (schedules.length === 0) return privateText('No schedules report to this channel. Add one: /testum schedule add "0 8 * * *" TARGET \'COMMAND\'');
  const lines = schedules.map((s) => {
    const state = s.paused ? "paused" : s.approvalState === "pending" ? "awaiting approval" : s.approvalState === "rejected" ? "rejected" : s.muted ? "muted (failing)" : "active";
    return `#${String(s.id).padEnd(4)} ${s.name.padEnd(20)} ${state.padEnd(18)} ${describeCron(s.cron)} (${s.timezone}) on ${s.target}`;
  });
  return privateReply(listing(`${schedules.length} schedule${schedules.length === 1 ? "" : "s"} in this channel`, lines));
};

export const scheduleShow: Handler<"schedule.show"> = async (ctx, _event, cmd) => {
  const s = await getSchedule(ctx.sql, cmd.schedule);
  const runs = s.paused || s.approvalState === "pending" || s.approvalState === "rejected" ? [] : nextRuns(s.cron, s.timezone, 5);
  const lines = [
    `name:      ${s.name}`,
    `when:      ${describeCron(s.cron)} ("${s.cron}", ${s.timezone})`,
    `target:    ${s.target}`,
    `command:   ${s.command}`,
    `owner:     ${s.ownerName ?? s.owner}`,
    `posts:     ${s.onChange ? "only when the output changes" : "every run"}${s.muted ? " (muted after failures until it recovers)" : ""}`,
    `state:     ${s.paused ? "paused" : s.approvalState === "pending" ? "waiting for approval" : s.approvalState === "rejected" ? "rejected" : "active"}`,
    `last run:  ${when(s.lastFireAt)}`,
    `next runs: ${runs.length ? runs.map((d) => when(d)).join(", ") : "none while paused or unapproved"}`,
  ];
  return privateReply(listing(`Schedule #${s.id}`, lines));
};

/** Changes to a schedule are for its owner or an admin everywhere. */
async function ownSchedule(ctx: HandlerContext, id: number): Promise<Schedule> {
  const schedule = await getSchedule(ctx.sql, id);
  const principal = await ctx.principal();
  if (schedule.owner !== principal.actor.id && !canEverywhere(principal, "admin")) {
    throw new NotAllowedError(`schedule #${id} belongs to ${schedule.ownerName ?? schedule.owner}; only they or an admin can change it`);
  }
  return schedule;
}

export const scheduleRm: Handler<"schedule.rm"> = async (ctx, _event, cmd) => {
  const s = await ownSchedule(ctx, cmd.schedule);
  await ctx.sql`delete from schedules where id = ${s.id}`;
  await ctx.audit("schedule.remove", "removed", s.target, { schedule: s.id, name: s.name });
  return privateText(`Deleted schedule #${s.id} "${s.name}".`, "success");
};

export const schedulePause: Handler<"schedule.pause"> = async (ctx, _event, cmd) => {
  const s = await ownSchedule(ctx, cmd.schedule);
  await ctx.sql`update schedules set paused = true, updated_at = now() where id = ${s.id}`;
  await ctx.audit("schedule.pause", "paused", s.target, { schedule: s.id });
  return privateText(`⏸️ Paused schedule #${s.id} "${s.name}". /testum schedule resume ${s.id} starts it again.`, "success");
};

export const scheduleResume: Handler<"schedule.resume"> = async (ctx, _event, cmd) => {
  const s = await ownSchedule(ctx, cmd.schedule);
  await ctx.sql`update schedules set paused = false, updated_at = now() where id = ${s.id}`;
  await ctx.audit("schedule.resume", "resumed", s.target, { schedule: s.id });
  const next = nextRuns(s.cron, s.timezone, 1)[0];
  return privateText(`▶️ Resumed schedule #${s.id} "${s.name}". Next run ${when(next)}.`, "success");
};

export const scheduleRun: Handler<"schedule.run"> = async (ctx, _event, cmd) => {
  const s = await ownSchedule(ctx, cmd.schedule);
  if (s.approvalState === "pending" || s.approvalState === "rejected") throw new TestumError("conflict", `schedule #${s.id} is not approved; it cannot run`);
  const job = await fireSchedule(schedulerDeps(ctx), s.id, new Date(), "manual");
  return job ? privateText(`▶️ Schedule #${s.id} "${s.name}" runs now as job #${job.id}.`, "success") : privateText(`Schedule #${s.id} did not run; the channel says why.`, "warning");
};

/** An approver's decision on a risky schedule. */
export async function decideSchedule(ctx: HandlerContext, id: number, decision: "approve" | "reject"): Promise<Reply> {
  const schedule = await getSchedule(ctx.sql, id);
  if (schedule.approvalState !== "pending") return privateText(`Schedule #${id} is not waiting for approval; nothing changed.`);
  const principal = await ctx.principal();
  const hosts = await resolveTarget(ctx.sql, schedule.target);
  try {
    if (decision === "approve" && principal.actor.id === schedule.owner) throw new NotAllowedError(`you made schedule #${id}, so you cannot approve it: someone else must`);
    if (principal.actor.id !== schedule.owner) requireOnHosts(principal, "approve", hosts);
  } catch (err) {
    await ctx.audit(`schedule.${decision}`, "refused", schedule.target, { schedule: id, reason: (err as Error).message });
    throw err;
  }
  const by = principal.actor.name ?? principal.actor.id;
  const updated =
    decision === "approve"
      ? await ctx.sql<Schedule[]>`
          update schedules set approval_state = 'approved', approved_by = ${by}, updated_at = now(),
            approved_hash = ${approvalHash({ kind: "command", command: schedule.command }, hosts, scheduleOptions(schedule))}
          where id = ${id} and approval_state = 'pending' returning *`
      : await ctx.sql<Schedule[]>`update schedules set approval_state = 'rejected', approved_by = ${by}, updated_at = now() where id = ${id} and approval_state = 'pending' returning *`;
  if (updated.length === 0) return privateText(`Schedule #${id} was decided at the same moment by someone else.`);
  await ctx.audit(`schedule.${decision}`, decision === "approve" ? "approved" : "rejected", schedule.target, { schedule: id });
  if (schedule.approvalMessage) ctx.messages.show(schedule.approvalMessage, renderScheduleRequest(updated[0]!, hosts.map((h) => h.name)));
  return privateText(decision === "approve" ? `You approved schedule #${id}; it runs from its next time on.` : `You rejected schedule #${id}; it will not run.`, decision === "approve" ? "success" : "warning");
}
