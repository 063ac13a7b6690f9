import { requireOnHosts } from "../access.js";
import { approvalHash, listDecisions, renderRequest } from "../approvals.js";
import type { Reply } from "../chat.js";
import { NotAllowedError, TestumError } from "../errors.js";
import { getHostById, type Host } from "../hosts.js";
import { renderParent } from "../job-view.js";
import { finishJob, getJob, listTasks, type Job } from "../jobs.js";
import { privateText } from "../replies.js";
import { listRiskPatterns, riskReasons } from "../risk.js";
import { resolveTarget } from "../targets.js";
import type { Handler, HandlerContext } from "./context.js";

async function jobHosts(ctx: HandlerContext, job: Job): Promise<Host[]> {
  const tasks = await listTasks(ctx.sql, job.id);
  const hosts = await Promise.all(tasks.map((t) => (t.hostId === null ? undefined : getHostById(ctx.sql, t.hostId))));
  return hosts.filter((h): h is Host => h !== undefined);
}

/**
 * Shows the request as it is now, and the parent too unless a worker is about
 * to take the job (it then keeps the parent up to date itself).
 */
export async function refreshApproval(ctx: HandlerContext, jobId: number, note?: string): Promise<void> {
  const job = await getJob(ctx.sql, jobId);
  const tasks = await listTasks(ctx.sql, job.id);
  if (job.approvalMessage) {
    ctx.messages.show(job.approvalMessage, renderRequest(job, tasks.map((t) => t.hostName), await listDecisions(ctx.sql, job.id), note));
  }
  if (job.parentMessage && job.status !== "queued") ctx.messages.show(job.parentMessage, renderParent(job, tasks, ctx.settings.publicUrl));
}

/**
 * The targets changed since the request: the job does not run; it asks again
 * for the hosts the target names now.
 */
async function askAgain(ctx: HandlerContext, job: Job, hosts: readonly Host[]): Promise<string> {
  const { sql, settings } = ctx;
  const reasons = riskReasons(job.command, hosts, await listRiskPatterns(sql), { maxHostsWithoutApproval: settings.approvalHosts });
  await sql.begin(async (tx) => {
    await tx`delete from approvals where job_id = ${job.id}`;
    await tx`delete from job_tasks where job_id = ${job.id}`;
    for (const host of hosts) await tx`insert into job_tasks (job_id, host_name, host_id) values (${job.id}, ${host.name}, ${host.id})`;
    await tx`
      update jobs set approval_hash = ${approvalHash(job, hosts, job.options)},
        approval_reasons = ${tx.json([...reasons, "the target hosts changed since the first request"] as never)},
        approval_expires_at = ${new Date(Date.now() + settings.approvalTtlMs)}
      where id = ${job.id}`;
  });
  await ctx.audit("approval.changed", "asked_again", job.target, { job: job.id, hosts: hosts.map((h) => h.name) });
  const note = `The target ${job.target} now names ${hosts.map((h) => h.name).join(", ")}, not the hosts approved. The job did not run; approve again for these hosts.`;
  await refreshApproval(ctx, job.id, note);
  return note;
}

/** Approves or rejects a waiting job: from a button or from `approve N` / `reject N`. */
export async function decide(ctx: HandlerContext, jobId: number, decision: "approve" | "reject", reason?: string): Promise<Reply> {
  const { sql } = ctx;
  const principal = await ctx.principal();
  const actor = principal.actor;
  const job = await getJob(sql, jobId);
  if (job.status !== "awaiting_approval") {
    return privateText(`Job #${job.id} is not waiting for approval (it is ${job.status.replace("_", " ")}); nothing changed.`);
  }
  if (job.approvalExpiresAt && job.approvalExpiresAt.getTime() < Date.now()) {
    throw new TestumError("conflict", `the request for job #${job.id} expired at ${job.approvalExpiresAt.toISOString()}; run the command again to ask anew`);
  }
  const hosts = await jobHosts(ctx, job);
  try {
    if (decision === "approve" && actor.id === job.requestedBy) {
      throw new NotAllowedError(`you asked for job #${job.id}, so you cannot approve it: someone else must`);
    }
    // The requester may withdraw their own request; anyone else needs the approve right.
    if (actor.id !== job.requestedBy) requireOnHosts(principal, "approve", hosts);
  } catch (err) {
    await ctx.audit(`approval.${decision}`, "refused", job.target, { job: job.id, reason: (err as Error).message });
    throw err;
  }
  const inserted = await sql`
    insert into approvals (job_id, approver, approver_name, decision, reason)
    values (${job.id}, ${actor.id}, ${actor.name ?? null}, ${decision}, ${reason ?? null})
    on conflict (job_id, approver) do nothing returning job_id`;
  if (inserted.length === 0) return privateText(`You already decided on job #${job.id}; nothing changed.`);
  await ctx.audit(`approval.${decision}`, decision === "approve" ? "approved" : "rejected", job.target, { job: job.id, reason: reason ?? null });

  if (decision === "reject") {
    await sql`
      update jobs set status = 'rejected', finished_at = now(), error = ${`rejected by ${actor.name ?? actor.id}${reason ? `: ${reason}` : ""}`}
      where id = ${job.id} and status = 'awaiting_approval'`;
    await refreshApproval(ctx, job.id);
    return privateText(`You rejected job #${job.id}. It will not run.`);
  }

  const [{ count }] = (await sql`select count(*)::int as count from approvals where job_id = ${job.id} and decision = 'approve'`) as unknown as [{ count: number }];
  if (count < job.approvalsRequired) {
    await refreshApproval(ctx, job.id);
    return privateText(`You approved job #${job.id}: ${count} of ${job.approvalsRequired} approvals.`);
  }
  // The approval covers exactly the hosts it was given for.
  const now = await resolveTarget(sql, job.target).catch(() => [] as Host[]);
  if (now.length === 0 || approvalHash(job, now, job.options) !== job.approvalHash) {
    if (now.length === 0) {
      await sql`update jobs set status = 'rejected', finished_at = now(), error = 'its target names no hosts any more' where id = ${job.id} and status = 'awaiting_approval'`;
      await refreshApproval(ctx, job.id, `The target ${job.target} names no hosts any more; the job did not run.`);
      return privateText(`Job #${job.id} did not run: its target names no hosts any more.`, "warning");
    }
    return privateText(await askAgain(ctx, job, now), "warning");
  }
  // Only one decision moves the job on, however many approvers click at once.
  const started = await sql`update jobs set status = 'queued' where id = ${job.id} and status = 'awaiting_approval' returning id`;
  if (started.length === 0) return privateText(`Job #${job.id} was approved at the same moment by someone else; it runs once.`);
  try {
    await ctx.queue.enqueue(job.id);
  } catch (err) {
    ctx.log.error({ err, job: job.id }, "approved job could not be queued");
    await finishJob(sql, job.id, "failed", "approved, but the job queue was unavailable; nothing ran");
    await refreshApproval(ctx, job.id);
    throw new TestumError("chat_unavailable", `job #${job.id} was approved but could not be queued (the job queue is unavailable); run it again`);
  }
  await ctx.audit("approval.granted", "queued", job.target, { job: job.id });
  await refreshApproval(ctx, job.id);
  return privateText(`You approved job #${job.id}; it runs now, in its thread.`, "success");
}

export const approve: Handler<"approve"> = (ctx, _event, cmd) => decide(ctx, cmd.job, "approve");
export const reject: Handler<"reject"> = (ctx, _event, cmd) => decide(ctx, cmd.job, "reject", cmd.reason);
