import { requireOnHosts } from "../access.js";
import { approvalHash, renderRequest } from "../approvals.js";
import { recordAudit } from "../audit.js";
import { encodeAction } from "../actions.js";
import type { Inbound, Reply } from "../chat.js";
import type { RunFlags } from "../commands.js";
import { compactNames } from "../fanout.js";
import { isTestumError, NotAllowedError, TestumError } from "../errors.js";
import type { Host } from "../hosts.js";
import { renderLive, renderParent } from "../job-view.js";
import { createJob, finishJob, getJob, listTasks, setChatRefs, type Job } from "../jobs.js";
import { listing, privateReply, privateText } from "../replies.js";
import { listRiskPatterns, riskReasons } from "../risk.js";
import { truncate } from "../tail.js";
import { resolveTarget } from "../targets.js";
import type { Handler, HandlerContext } from "./context.js";

/**
 * Posts the job's parent and live messages, then queues it, or, when it
 * needs approval, posts the request with its buttons instead.
 */
async function publish(ctx: HandlerContext, job: Job, hosts: readonly Host[]): Promise<void> {
  const { sql, settings, log } = ctx;
  const chat = ctx.chat.adapterFor(job.conversation);
  const label = hosts.length === 1 ? hosts[0]!.name : `${hosts.length} hosts`;
  let parent: string | undefined;
  try {
    const tasks = await listTasks(sql, job.id);
    const start = await chat.startThread(job.conversation, renderParent(job, tasks, settings.publicUrl), truncate(`#${job.id} ${label}: ${job.command}`, 100));
    parent = start.message;
    const live = await chat.post(
      start.thread,
      renderLive(job, label, { lines: [], omitted: 0, lineCount: 0, status: "queued", updatedAt: Date.now() }, settings.publicUrl),
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
      await chat.edit(parent, renderParent(failed, await listTasks(sql, job.id), settings.publicUrl)).catch(() => {});
    }
    throw new TestumError("chat_unavailable", `job #${job.id} was not run: ${reason}`, { cause: err });
  }
}

export interface Submission extends RunFlags {
  readonly kind: "command" | "script";
  readonly target: string;
  /** The command, or the script's text. */
  readonly command: string;
}

/** Resolves, authorizes and checks a run or script, then creates and publishes its job. */
export async function submit(ctx: HandlerContext, event: Inbound, input: Submission): Promise<Reply> {
  const { sql, settings } = ctx;
  const label = input.kind === "script" ? `script (${input.command.split("\n").length} lines)` : input.command;
  let hosts: Host[];
  try {
    hosts = await resolveTarget(sql, input.target);
    requireOnHosts(await ctx.principal(), "run", hosts);
  } catch (err) {
    // Refusals for want of a right are audited where every command's are.
    if (!(err instanceof NotAllowedError)) await ctx.audit("job.request", "refused", input.target, { reason: (err as Error).message, command: label });
    throw err;
  }
  const timeoutMs = input.timeoutMs ?? settings.jobTimeoutMs;
  const options = { timeoutMs, parallel: input.parallel, batch: input.batch, maxFailures: input.maxFailures };
  const reasons = riskReasons(input.command, hosts, await listRiskPatterns(sql), { maxHostsWithoutApproval: settings.approvalHosts });
  if (input.dryRun) {
    return privateReply(
      listing(
        `Dry run: ${input.target} names ${hosts.length} host${hosts.length === 1 ? "" : "s"}; nothing ran`,
        [compactNames(hosts.map((h) => h.name)), ...(reasons.length ? ["", "It would need approval:", ...reasons.map((r) => `• ${r}`)] : [])],
      ),
    );
  }
  const job = await createJob(sql, {
    kind: input.kind,
    command: input.command,
    target: input.target,
    hosts,
    requestedBy: event.actor.id,
    requestedByName: event.actor.name,
    conversation: event.conversation,
    timeoutMs,
    options,
    approval:
      reasons.length === 0
        ? undefined
        : {
            reasons,
            hash: approvalHash(input, hosts, options),
            required: settings.approvalsRequired,
            expiresAt: new Date(Date.now() + settings.approvalTtlMs),
          },
  });
  await ctx.audit("job.request", reasons.length ? "approval_required" : "accepted", input.target, {
    job: job.id,
    kind: input.kind,
    command: label,
    hosts: hosts.length <= 50 ? hosts.map((h) => h.name) : compactNames(hosts.map((h) => h.name)),
    ...(reasons.length ? { reasons } : {}),
  });
  await publish(ctx, job, hosts);
  const where = hosts.length === 1 ? hosts[0]!.name : `${hosts.length} hosts`;
  if (reasons.length === 0) return privateText(`✅ Job #${job.id} queued on ${where}. Output follows in the thread.`, "success");
  return privateReply({
    text: `Job #${job.id} needs approval before it runs`,
    tone: "warning",
    blocks: [
      { type: "text", text: `🔐 Job #${job.id} on ${where} needs approval before it runs:` },
      { type: "code", lines: reasons.map((r) => `• ${r}`) },
      { type: "context", text: "An approver of every target host, other than you, can approve it in the thread." },
    ],
  });
}

export const run: Handler<"run"> = (ctx, event, cmd) => submit(ctx, event, { ...cmd, kind: "command" });

export const script: Handler<"script"> = async (ctx, event, cmd) => {
  if (cmd.script !== undefined) return submit(ctx, event, { ...cmd, kind: "script", command: cmd.script });
  // No script in the message: ask for it in a private form, carrying the target and options.
  await resolveTarget(ctx.sql, cmd.target);
  return {
    kind: "form",
    form: {
      action: encodeAction({ kind: "script", target: encodeScriptTarget(cmd) }),
      title: "Script to run",
      submitLabel: "Run",
      fields: [{ id: "script", label: `Script for ${cmd.target} (a #! line picks the interpreter; default sh)`.slice(0, 45), multiline: true, maxLength: 4000, placeholder: "#!/bin/bash\nuptime" }],
    },
  };
};

/** Target and options of a script form, in the form's action payload: `TARGET|timeout|parallel|batch|max-failures`. */
export function encodeScriptTarget(flags: RunFlags & { target: string }): string {
  return [flags.target, flags.timeoutMs ?? "", flags.parallel ?? "", flags.batch ?? "", flags.maxFailures ?? ""].join("|");
}

export function decodeScriptTarget(text: string): RunFlags & { target: string } {
  const [target = "", timeout, parallel, batch, maxFailures] = text.split("|");
  const num = (v: string | undefined) => (v ? Number(v) : undefined);
  return { target, timeoutMs: num(timeout), parallel: num(parallel), batch: num(batch), maxFailures: num(maxFailures) };
}
