import { approvalHash, requestLang } from "./approvals.js";
import { authorizeLater } from "./authorize.js";
import { displayName, type Inbound, type Reply } from "../chat/chat.js";
import { NotAllowedError, TestumError } from "../errors.js";
import { transaction } from "../db.js";
import type { Host } from "../hosts/hosts.js";
import { msg, say, translator, type Translator } from "../chat/i18n.js";
import type { Job } from "../jobs/jobs.js";
import { queueJob, rejectJob, SYSTEM } from "../jobs/lifecycle.js";
import { refreshJobMessages } from "../jobs/messages.js";
import { privateText } from "../chat/replies.js";
import { listRiskPatterns, riskMessages } from "./risk.js";
import { resolveTarget } from "../hosts/targets.js";
import type { Handler, HandlerContext } from "../commands/handler-context.js";
import { formatTime } from "../chat/time.js";

/** Shows the request, the parent and the live message as they are now (the request in its own language: see requestLang). */
export async function refreshApproval(ctx: HandlerContext, jobId: number, note?: string): Promise<void> {
  await refreshJobMessages(ctx.sql, jobId, ctx.settings.publicUrl, note);
}

/**
 * The targets changed since the request: the job does not run; it asks again
 * for the hosts the target names now.
 */
async function askAgain(ctx: HandlerContext, job: Job, hosts: readonly Host[]): Promise<string> {
  const { sql, settings } = ctx;
  // Said on the request: in its language.
  const t = translator(requestLang(job));
  const risks = [...riskMessages(job.command, hosts, await listRiskPatterns(sql), { maxHostsWithoutApproval: settings.approvalHosts }), msg("approval.targets_changed")];
  await transaction(sql, async (tx) => {
    await tx`delete from approvals where job_id = ${job.id}`;
    await tx`delete from job_tasks where job_id = ${job.id}`;
    for (const host of hosts) await tx`insert into job_tasks (job_id, host_name, host_id) values (${job.id}, ${host.name}, ${host.id})`;
    await tx`
      update jobs set approval_hash = ${approvalHash(job, hosts, job.options)},
        approval_reasons = ${tx.json(risks.map((r) => say(t, r)) as never)},
        approval_expires_at = ${new Date(Date.now() + settings.approvalTtlMs)}
      where id = ${job.id}`;
  });
  await ctx.audit("approval.changed", "asked_again", job.target, { job: job.id, hosts: hosts.map((h) => h.name) });
  const note = msg("approval.ask_again", { target: job.target, hosts: hosts.map((h) => h.name).join(", ") });
  await refreshApproval(ctx, job.id, say(t, note));
  return say(ctx.t, note);
}

/**
 * The requester's run right on every host the job would run on now, checked
 * as for a command of theirs (their groups read again from their platform).
 * Returns the reply when it does not hold; the job is then rejected, or, when
 * their platform cannot answer now, the approval is taken back to be given again.
 */
async function requesterMayRun(ctx: HandlerContext, job: Job, hosts: readonly Host[]): Promise<Reply | undefined> {
  const check = await authorizeLater(
    { sql: ctx.sql, people: ctx.people, admins: ctx.settings.admins },
    { id: job.requestedBy, name: job.requestedByName, conversation: job.conversation, fresh: true },
    "run",
    hosts,
  );
  if (check.state === "allowed") return undefined;
  const principal = await ctx.principal();
  if (check.state === "unavailable") {
    await ctx.sql`delete from approvals where job_id = ${job.id} and approver = ${principal.actor.id}`;
    await ctx.audit("approval.requester_check", "unavailable", job.target, { job: job.id, why: check.detail });
    return privateText(ctx.t("approval.requester_unknown_reply", { id: job.id, detail: check.detail }), "warning");
  }
  const t = translator(job.lang);
  const onRequest = translator(requestLang(job));
  const who = displayName(job.requestedByName, job.requestedBy);
  const denied = check.state === "denied" && check.error instanceof NotAllowedError ? check.error : undefined;
  const reason = (lang: Translator) =>
    denied?.hosts?.length ? lang("approval.requester_missing", { hosts: denied.hosts.join(", ") }) : check.state === "denied" ? check.error.say(lang) : check.detail;
  await rejectJob(ctx.sql, job.id, t("approval.requester_denied_error"), SYSTEM, { reason: "the requester may not run it on every host its target names now" });
  await ctx.audit("approval.requester_check", "refused", job.target, {
    job: job.id,
    requester: job.requestedBy,
    right: "run",
    hosts: denied?.hosts ?? hosts.map((h) => h.name),
    ...(check.state === "denied" ? {} : { owner: check.state, why: check.detail }),
  });
  await refreshApproval(ctx, job.id, onRequest("approval.requester_denied_note", { who, target: job.target, reason: reason(onRequest) }));
  return privateText(ctx.t("approval.requester_denied_reply", { id: job.id, who, reason: reason(ctx.t) }), "warning");
}

/**
 * A button press counts only on the message it belongs to: the request in
 * the job's own thread (a copy of the payload sent from another message or
 * channel is refused).
 */
export async function requireClickedOn(ctx: HandlerContext, event: Inbound, expected: string | null, what: { job?: number; schedule?: number }): Promise<void> {
  if (event.kind !== "action" || event.message === expected) return;
  await ctx.audit(what.job !== undefined ? "approval.click" : "schedule.click", "refused", undefined, {
    ...what,
    message: event.message,
    reason: "button pressed outside its request message",
  });
  throw new NotAllowedError(what.job !== undefined ? msg("approval.wrong_message", { id: what.job }) : msg("schedule.wrong_message", { id: what.schedule! }));
}

/**
 * Approves or rejects a waiting job: from a button or from `approve N` /
 * `reject N`. The actor's right on the job's hosts was checked before.
 */
export async function decide(ctx: HandlerContext, event: Inbound, job: Job, decision: "approve" | "reject", reason?: string): Promise<Reply> {
  const { sql } = ctx;
  const principal = await ctx.principal();
  const actor = principal.actor;
  await requireClickedOn(ctx, event, job.approvalMessage, { job: job.id });
  if (job.status !== "awaiting_approval") {
    return privateText(ctx.t("approval.not_waiting", { id: job.id, status: msg(`status.${job.status}`) }));
  }
  if (job.approvalExpiresAt && job.approvalExpiresAt.getTime() < Date.now()) {
    throw new TestumError("conflict", msg("approval.request_expired", { id: job.id, at: formatTime(job.approvalExpiresAt) }));
  }
  if (decision === "approve" && actor.id === job.requestedBy) {
    const err = new NotAllowedError(msg("approval.own_job", { id: job.id }));
    await ctx.audit("approval.approve", "refused", job.target, { job: job.id, reason: err.message });
    throw err;
  }
  const inserted = await sql`
    insert into approvals (job_id, approver, approver_name, decision, reason)
    values (${job.id}, ${actor.id}, ${actor.name ?? null}, ${decision}, ${reason ?? null})
    on conflict (job_id, approver) do nothing returning job_id`;
  if (inserted.length === 0) return privateText(ctx.t("approval.already_decided", { id: job.id }));
  await ctx.audit(`approval.${decision}`, decision === "approve" ? "approved" : "rejected", job.target, { job: job.id, reason: reason ?? null });

  if (decision === "reject") {
    const who = displayName(actor.name, actor.id);
    const said = translator(job.lang)(reason ? "approval.rejected_by_reason" : "approval.rejected_by", { who, reason: reason ?? "" });
    await rejectJob(sql, job.id, said, actorCause(actor), { reason: reason ?? null });
    await refreshApproval(ctx, job.id);
    return privateText(ctx.t("approval.you_rejected", { id: job.id }));
  }

  const [{ count }] = (await sql`select count(*)::int as count from approvals where job_id = ${job.id} and decision = 'approve'`) as unknown as [{ count: number }];
  if (count < job.approvalsRequired) {
    await refreshApproval(ctx, job.id);
    return privateText(ctx.t("approval.you_approved_partial", { id: job.id, count, required: job.approvalsRequired }));
  }
  // The approval covers exactly the hosts it was given for.
  const now = await resolveTarget(sql, job.target).catch(() => [] as Host[]);
  if (now.length === 0) {
    const t = translator(job.lang);
    await rejectJob(sql, job.id, t("approval.no_hosts_error"), SYSTEM, { reason: "no hosts" });
    await refreshApproval(ctx, job.id, translator(requestLang(job))("approval.no_hosts_note", { target: job.target }));
    return privateText(ctx.t("approval.no_hosts_reply", { id: job.id }), "warning");
  }
  // Before anything runs, or is asked again for hosts that changed: the requester may run on every one of them now.
  const requester = await requesterMayRun(ctx, job, now);
  if (requester) return requester;
  if (approvalHash(job, now, job.options) !== job.approvalHash) return privateText(await askAgain(ctx, job, now), "warning");
  // Only one decision moves the job on, however many approvers click at once.
  const started = await sql`update jobs set status = 'queued' where id = ${job.id} and status = 'awaiting_approval' returning id`;
  if (started.length === 0) return privateText(ctx.t("approval.raced", { id: job.id }));
  await ctx.audit("approval.granted", "queued", job.target, { job: job.id });
  // The request shows the approval now; the worker takes the parent and the live message from here.
  await refreshApproval(ctx, job.id);
  await queueJob(sql, ctx.queue, job, ctx.settings.publicUrl, ctx.log);
  return privateText(ctx.t("approval.you_approved_runs", { id: job.id }), "success");
}

const actorCause = (actor: { id: string; name?: string | undefined }) => ({ actor: actor.id, actorName: actor.name });

export const approve: Handler<"approve"> = (ctx, event, _cmd, scope) => decide(ctx, event, scope.job!, "approve");
export const reject: Handler<"reject"> = (ctx, event, cmd, scope) => decide(ctx, event, scope.job!, "reject", cmd.reason);
