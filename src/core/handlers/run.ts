import { requireOnHosts } from "../access.js";
import { approvalHash } from "../approvals.js";
import { encodeAction } from "../actions.js";
import type { Inbound, Reply } from "../chat.js";
import type { RunFlags } from "../commands.js";
import { compactNames } from "../fanout.js";
import { NotAllowedError } from "../errors.js";
import type { Host } from "../hosts.js";
import { createJob } from "../jobs.js";
import { publish } from "../publish.js";
import { listing, privateReply, privateText } from "../replies.js";
import { listRiskPatterns, riskReasons } from "../risk.js";
import { resolveTarget } from "../targets.js";
import type { Handler, HandlerContext } from "./context.js";

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
  await publish({ ...ctx, publicUrl: settings.publicUrl }, job, hosts);
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
