import { can, canEverywhere } from "../access/access.js";
import type { Scope } from "../commands/handler-context.js";
import { listHosts, type Host } from "../hosts/hosts.js";
import { encodeAction } from "../commands/actions.js";
import { approvalHash } from "../access/approvals.js";
import { displayName, type Block, type Inbound, type Reply, type View } from "../chat/chat.js";
import { NotAllowedError, TestumError } from "../errors.js";
import { compactNames } from "../jobs/fanout.js";
import { msg, say, translator, type Translator } from "../chat/i18n.js";
import { listing, privateReply, privateText } from "../chat/replies.js";
import { commandRisks, runbookCommand, type RunbookApproval } from "../runbooks/runbooks.js";
import { fireSchedule, scheduleOptions, type SchedulerDeps } from "./scheduler.js";
import { describeCron, listSchedules, nextRuns, validateCron, validateTimezone, type Schedule } from "./schedules.js";
import { parseTarget, selectHosts } from "../hosts/targets.js";
import { requireClickedOn } from "../access/handle-approvals.js";
import type { Handler, HandlerContext } from "../commands/handler-context.js";
import { formatTime } from "../chat/time.js";
import { transaction } from "../db.js";
import { setScheduleMessage } from "../jobs/outbox.js";

const when = (d: Date | undefined | null, t: Translator) => (d ? formatTime(d) : t("word.never"));

export function schedulerDeps(ctx: HandlerContext): SchedulerDeps {
  return {
    sql: ctx.sql,
    people: ctx.people,
    queue: ctx.queue,
    log: ctx.log,
    publicUrl: ctx.settings.publicUrl,
    admins: ctx.settings.admins,
    approvalHosts: ctx.settings.approvalHosts,
    approvalsRequired: ctx.settings.approvalsRequired,
    approvalTtlMs: ctx.settings.approvalTtlMs,
    approvalLang: ctx.settings.lang,
    processName: "chat",
    mode: ctx.settings.mode,
    catchUp: false,
  };
}

/** The request in the channel for a risky schedule, in the language of `t`: the deployment's (TESTUM_LANG), as it is for its approvers. */
export function renderScheduleRequest(schedule: Schedule, hosts: readonly string[], t: Translator, note?: string): View {
  const named = { name: schedule.name, id: schedule.id };
  const blocks: Block[] = [
    {
      type: "heading",
      text:
        schedule.approvalState === "pending"
          ? t("schedule.request.pending", named)
          : schedule.approvalState === "approved"
            ? t("schedule.request.approved", { ...named, by: String(schedule.approvedBy) })
            : t("schedule.request.rejected", named),
    },
    {
      type: "fields",
      fields: [
        { label: t("schedule.request.owner"), value: displayName(schedule.ownerName, schedule.owner) },
        { label: t("view.command"), value: schedule.command.slice(0, 900) },
        { label: t("view.hosts_count", { count: hosts.length }), value: compactNames(hosts) },
        { label: t("schedule.request.when"), value: `${describeCron(schedule.cron, t)} (${schedule.timezone})` },
        { label: t("approval.why"), value: schedule.approvalReasons.join("\n") || "—" },
      ],
    },
  ];
  if (note) blocks.push({ type: "text", text: note });
  if (schedule.approvalState === "pending") {
    blocks.push({ type: "context", text: t("schedule.request.hint") });
    blocks.push({
      type: "actions",
      buttons: [
        { label: t("button.approve"), action: encodeAction({ kind: "schedule-approve", schedule: schedule.id }), style: "primary" },
        { label: t("button.reject"), action: encodeAction({ kind: "schedule-reject", schedule: schedule.id }), style: "danger" },
      ],
    });
  }
  return { text: t("schedule.request.text", { name: schedule.name }), tone: schedule.approvalState === "rejected" ? "failure" : "warning", blocks, lang: t.lang };
}

interface NewSchedule {
  readonly cron: string;
  readonly target: string;
  readonly command: string;
  readonly timezone?: string | undefined;
  readonly label?: string | undefined;
  readonly onChange?: boolean | undefined;
  readonly timeoutMs?: number | undefined;
  /** A schedule of a runbook: the runbook runs with these values at every fire, as it is then. */
  readonly runbook?: { readonly name: string; readonly params: Readonly<Record<string, string>>; readonly approval: RunbookApproval } | undefined;
}

async function addSchedule(ctx: HandlerContext, event: Inbound, cmd: NewSchedule, hosts: readonly Host[]): Promise<Reply> {
  validateCron(cmd.cron);
  const timezone = cmd.timezone ?? "UTC";
  validateTimezone(timezone);
  const { t } = ctx;
  const timeoutMs = cmd.timeoutMs ?? ctx.settings.jobTimeoutMs;
  const risks = await commandRisks(ctx.sql, cmd, hosts, ctx.settings.approvalHosts);
  // The owner reads the reasons in their language; the stored ones are for the approvers' request, in the deployment's.
  const reasons = risks.map((r) => say(t, r));
  const requestT = translator(ctx.settings.lang);
  const name = cmd.label ?? (cmd.runbook ? cmd.runbook.name : cmd.command.split(/\s+/).slice(0, 3).join(" ").slice(0, 40));
  const schedule = await transaction(ctx.sql, async (tx) => {
    const [row] = await tx<Schedule[]>`
    insert into schedules (name, cron, timezone, target, command, channel, owner, owner_name, owner_groups, on_change, timeout_ms,
                           approval_state, approval_reasons, approvals_required, lang, runbook, runbook_params)
    values (${name}, ${cmd.cron.trim()}, ${timezone}, ${cmd.target}, ${cmd.command}, ${event.conversation}, ${event.actor.id},
            ${event.actor.name ?? null}, ${ctx.sql.json([...event.actor.groups] as never)}, ${cmd.onChange ?? false}, ${timeoutMs},
            ${reasons.length ? "pending" : "none"}, ${ctx.sql.json(risks.map((r) => say(requestT, r)) as never)}, ${ctx.settings.approvalsRequired}, ${ctx.lang},
            ${cmd.runbook?.name ?? null}, ${cmd.runbook ? ctx.sql.json(cmd.runbook.params as never) : null})
    returning *`;
    // The approval request is recorded with the schedule; the delivery loop posts it when chat allows (see delivery.ts).
    if (reasons.length > 0) {
      const request = renderScheduleRequest(
        row!,
        hosts.map((h) => h.name),
        requestT,
      );
      await setScheduleMessage(tx, row!.id, event.conversation, "approval", request, { title: requestT("schedule.thread_title", { name }) });
    }
    return row!;
  });
  await ctx.audit("schedule.add", risks.length ? "approval_required" : "added", cmd.target, {
    schedule: schedule.id,
    cron: cmd.cron,
    command: cmd.command,
    timezone,
    ...(cmd.runbook ? { runbook: cmd.runbook.name, params: cmd.runbook.params } : {}),
  });
  const next = nextRuns(schedule.cron, timezone, 1)[0];
  const words = t(cmd.onChange ? "schedule.words_on_change" : "schedule.words", { when: describeCron(schedule.cron, t), timezone, hosts: compactNames(hosts.map((h) => h.name)) });
  if (reasons.length === 0) {
    return privateText(t("schedule.added", { id: schedule.id, name, words, next: when(next, t) }), "success");
  }
  return privateText(t("schedule.added_needs_approval", { id: schedule.id, name, words, reasons: reasons.join("; ") }), "warning");
}

export const scheduleAdd: Handler<"schedule.add"> = (ctx, event, cmd, scope) => addSchedule(ctx, event, cmd, scope.hosts);

/** A schedule of a runbook: its parameters checked now (and again at every fire, against the runbook as it is then). */
export const scheduleRb: Handler<"schedule.rb"> = async (ctx, event, cmd, scope) => {
  const runbook = scope.runbook!;
  const command = runbookCommand(runbook, cmd.params);
  return addSchedule(
    ctx,
    event,
    {
      ...cmd,
      target: runbook.target,
      command,
      timeoutMs: cmd.timeoutMs ?? runbook.timeoutMs ?? undefined,
      runbook: { name: runbook.name, params: cmd.params, approval: runbook.approval },
    },
    scope.hosts,
  );
};

export const scheduleList: Handler<"schedule.list"> = async (ctx, event) => {
  const { t } = ctx;
  const principal = await ctx.principal();
  const hosts = await listHosts(ctx.sql);
  // Only schedules whose every host the asker may see; one whose target names nothing now, only for viewers of *.
  const visible = (schedule: Schedule) => {
    try {
      return selectHosts(hosts, parseTarget(schedule.target), schedule.target).every((h) => can(principal, "view", h));
    } catch {
      return canEverywhere(principal, "view");
    }
  };
  const schedules = (await listSchedules(ctx.sql, event.conversation)).filter(visible);
  if (schedules.length === 0) return privateText(t("schedule.none"));
  const lines = schedules.map((s) => {
    const state = t(
      s.paused
        ? "schedule.state.paused"
        : s.approvalState === "pending"
          ? "schedule.state.pending"
          : s.approvalState === "rejected"
            ? "schedule.state.rejected"
            : s.muted
              ? "schedule.state.muted"
              : "schedule.state.active",
    );
    return t("schedule.list.line", {
      id: String(s.id).padEnd(4),
      name: s.name.padEnd(20),
      state: state.padEnd(18),
      when: describeCron(s.cron, t),
      timezone: s.timezone,
      target: s.target,
    });
  });
  return privateReply(listing(t("schedule.list.title", { count: schedules.length }), lines, undefined, { wrap: true }));
};

export const scheduleShow: Handler<"schedule.show"> = async (ctx, _event, _cmd, scope) => {
  const { t } = ctx;
  const s = scope.schedule!;
  const runs = s.paused || s.approvalState === "pending" || s.approvalState === "rejected" ? [] : nextRuns(s.cron, s.timezone, 5);
  const posts = msg(s.onChange ? "schedule.show.posts_on_change" : "schedule.show.posts_every_run");
  const state = s.paused
    ? "schedule.state.paused"
    : s.approvalState === "pending"
      ? "schedule.show.waiting"
      : s.approvalState === "rejected"
        ? "schedule.state.rejected"
        : "schedule.state.active";
  const lines = [
    t("schedule.show.name", { value: s.name }),
    t("schedule.show.when", { when: describeCron(s.cron, t), cron: s.cron, timezone: s.timezone }),
    t("schedule.show.target", { value: s.target }),
    t("schedule.show.command", { value: s.command }),
    ...(s.runbook
      ? [
          t("schedule.show.runbook", {
            name: s.runbook,
            params:
              Object.entries(s.runbookParams ?? {})
                .map(([k, v]) => `${k}=${v}`)
                .join(" ") || "—",
          }),
        ]
      : []),
    t("schedule.show.owner", { value: displayName(s.ownerName, s.owner) }),
    t(s.muted ? "schedule.show.posts_muted" : "schedule.show.posts", { posts }),
    t("schedule.show.state", { state: msg(state) }),
    t("schedule.show.last_run", { value: when(s.lastFireAt, t) }),
    t("schedule.show.next_runs", { value: runs.length ? runs.map((d) => when(d, t)).join(", ") : msg("schedule.show.no_next_runs") }),
  ];
  return privateReply(listing(t("schedule.show.title", { id: s.id }), lines, undefined, { wrap: true }));
};

export const scheduleRm: Handler<"schedule.rm"> = async (ctx, _event, _cmd, scope) => {
  const s = scope.schedule!;
  await ctx.sql`delete from schedules where id = ${s.id}`;
  await ctx.audit("schedule.remove", "removed", s.target, { schedule: s.id, name: s.name });
  return privateText(ctx.t("schedule.deleted", { id: s.id, name: s.name }), "success");
};

export const schedulePause: Handler<"schedule.pause"> = async (ctx, _event, _cmd, scope) => {
  const s = scope.schedule!;
  await ctx.sql`update schedules set paused = true, updated_at = now() where id = ${s.id}`;
  await ctx.audit("schedule.pause", "paused", s.target, { schedule: s.id });
  return privateText(ctx.t("schedule.paused", { id: s.id, name: s.name }), "success");
};

export const scheduleResume: Handler<"schedule.resume"> = async (ctx, _event, _cmd, scope) => {
  const s = scope.schedule!;
  await ctx.sql`update schedules set paused = false, updated_at = now() where id = ${s.id}`;
  await ctx.audit("schedule.resume", "resumed", s.target, { schedule: s.id });
  const next = nextRuns(s.cron, s.timezone, 1)[0];
  return privateText(ctx.t("schedule.resumed", { id: s.id, name: s.name, next: when(next, ctx.t) }), "success");
};

export const scheduleRun: Handler<"schedule.run"> = async (ctx, _event, _cmd, scope) => {
  const s = scope.schedule!;
  if (s.approvalState === "pending" || s.approvalState === "rejected") throw new TestumError("conflict", msg("schedule.not_approved", { id: s.id }));
  const job = await fireSchedule(schedulerDeps(ctx), s.id, new Date(), "manual");
  return job
    ? job.status === "awaiting_approval"
      ? privateText(ctx.t("schedule.run_needs_approval", { id: s.id, name: s.name, job: job.id }), "warning")
      : privateText(ctx.t("schedule.runs_now", { id: s.id, name: s.name, job: job.id }), "success")
    : privateText(ctx.t("schedule.did_not_run_reply", { id: s.id }), "warning");
};

/** An approver's decision on a risky schedule (the right on its hosts was checked before). */
export async function decideSchedule(ctx: HandlerContext, event: Inbound, scope: Scope, decision: "approve" | "reject"): Promise<Reply> {
  const schedule = scope.schedule!;
  const id = schedule.id;
  const hosts = scope.hosts;
  await requireClickedOn(ctx, event, schedule.approvalMessage, { schedule: id });
  if (schedule.approvalState !== "pending") return privateText(ctx.t("schedule.not_waiting", { id }));
  const principal = await ctx.principal();
  if (decision === "approve" && principal.actor.id === schedule.owner) {
    const err = new NotAllowedError(msg("schedule.own", { id }));
    await ctx.audit("schedule.approve", "refused", schedule.target, { schedule: id, reason: err.message });
    throw err;
  }
  const by = displayName(principal.actor.name, principal.actor.id);
  if (decision === "approve") {
    // As for jobs: each approver counts once, and it takes approvals_required of them.
    const inserted = await ctx.sql`
      insert into schedule_approvals (schedule_id, approver, approver_name) values (${id}, ${principal.actor.id}, ${principal.actor.name ?? null})
      on conflict do nothing returning schedule_id`;
    if (inserted.length === 0) return privateText(ctx.t("schedule.already_approved", { id }));
    await ctx.audit("schedule.approve", "approved", schedule.target, { schedule: id });
    const [{ count }] = (await ctx.sql`select count(*)::int as count from schedule_approvals where schedule_id = ${id}`) as unknown as [{ count: number }];
    if (count < schedule.approvalsRequired) {
      return privateText(ctx.t("schedule.you_approved_partial", { id, count, required: schedule.approvalsRequired }));
    }
  }
  const updated =
    decision === "approve"
      ? await ctx.sql<Schedule[]>`
          update schedules set approval_state = 'approved', approved_by = ${by}, updated_at = now(),
            approved_hash = ${approvalHash({ kind: "command", command: schedule.command }, hosts, scheduleOptions(schedule))}
          where id = ${id} and approval_state = 'pending' returning *`
      : await ctx.sql<
          Schedule[]
        >`update schedules set approval_state = 'rejected', approved_by = ${by}, updated_at = now() where id = ${id} and approval_state = 'pending' returning *`;
  if (updated.length === 0) return privateText(ctx.t("schedule.raced", { id }));
  await ctx.audit(decision === "approve" ? "schedule.approve" : "schedule.reject", decision === "approve" ? "granted" : "rejected", schedule.target, { schedule: id });
  // The card shows the decision once chat allows: a new version of the request's row (a card posted before
  // the outbox kept schedule messages is adopted and edited).
  await setScheduleMessage(
    ctx.sql,
    id,
    schedule.channel,
    "approval",
    renderScheduleRequest(
      updated[0]!,
      hosts.map((h) => h.name),
      translator(ctx.settings.lang),
    ),
    { message: schedule.approvalMessage, final: true },
  );
  return privateText(ctx.t(decision === "approve" ? "schedule.you_approved" : "schedule.you_rejected", { id }), decision === "approve" ? "success" : "warning");
}
