import { truncate } from "./tail.js";
import { approvalHash } from "../access/approvals.js";
import { encodeAction } from "../commands/actions.js";
import type { Inbound, Reply } from "../chat/chat.js";
import type { RunFlags } from "../commands/commands.js";
import { compactNames } from "./fanout.js";
import type { Host } from "../hosts/hosts.js";
import { english, say, translator } from "../chat/i18n.js";
import { queueJob, requestJob } from "./lifecycle.js";
import { nextJobId } from "./jobs.js";
import { listing, privateReply, privateText } from "../chat/replies.js";
import { commandRisks, type RunbookApproval } from "../runbooks/runbooks.js";
import type { Handler, HandlerContext } from "../commands/handler-context.js";

export interface Submission extends RunFlags {
  readonly kind: "command" | "script";
  readonly target: string;
  /** The command, or the script's text. */
  readonly command: string;
  /** The runbook the command was made from: named in the job and the audit trail; its approval setting applies. */
  readonly runbook?: { readonly name: string; readonly params: Readonly<Record<string, string>>; readonly approval: RunbookApproval } | undefined;
}

/** Checks a run or script on its authorised hosts, then creates and publishes its job. */
export async function submit(ctx: HandlerContext, event: Inbound, input: Submission, hosts: readonly Host[]): Promise<Reply> {
  const { sql, settings, t } = ctx;
  // The audit trail is in English, whoever asked.
  const label = input.kind === "script" ? `script (${input.command.split("\n").length} lines)` : input.command;
  const timeoutMs = input.timeoutMs ?? settings.jobTimeoutMs;
  const options = { timeoutMs, parallel: input.parallel, batch: input.batch, maxFailures: input.maxFailures, ...(input.runbook ? { runbook: { name: input.runbook.name } } : {}) };
  // Read side by side: the patterns a command is checked against, and the number its job will have.
  const [risks, id] = await Promise.all([commandRisks(sql, input, hosts, settings.approvalHosts), input.dryRun ? undefined : nextJobId(sql)]);
  // The requester reads the reasons in their language; the approval request, addressed to approvers, is in the deployment's.
  const reasons = risks.map((r) => say(t, r));
  const approvalOptions = { ...options, approvalLang: settings.lang };
  if (input.dryRun) {
    return privateReply(
      listing(t("run.dry_run", { target: input.target, count: hosts.length }), [
        compactNames(hosts.map((h) => h.name)),
        ...(reasons.length ? ["", t("run.would_need_approval"), ...reasons.map((r) => `• ${r}`)] : []),
      ]),
    );
  }
  // The job, its audit record and its chat messages are written together; chat shows them when it can.
  const job = await requestJob(
    sql,
    {
      kind: input.kind,
      command: input.command,
      target: input.target,
      hosts,
      requestedBy: event.actor.id,
      requestedByName: event.actor.name,
      conversation: event.conversation,
      timeoutMs,
      options: reasons.length === 0 ? options : approvalOptions,
      lang: ctx.lang,
      approval:
        reasons.length === 0
          ? undefined
          : {
              reasons: risks.map((r) => say(translator(settings.lang), r)),
              hash: approvalHash(input, hosts, approvalOptions),
              required: settings.approvalsRequired,
              expiresAt: new Date(Date.now() + settings.approvalTtlMs),
            },
    },
    {
      actor: event.actor.id,
      actorName: event.actor.name,
      channel: event.conversation,
      action: "job.request",
      target: input.target,
      outcome: reasons.length ? "approval_required" : "accepted",
      detail: {
        kind: input.kind,
        command: label,
        ...(input.runbook ? { runbook: input.runbook.name, params: input.runbook.params } : {}),
        hosts: hosts.length <= 50 ? hosts.map((h) => h.name) : compactNames(hosts.map((h) => h.name)),
        ...(risks.length ? { reasons: risks.map((r) => say(english, r)) } : {}),
      },
    },
    settings.publicUrl,
    false,
    id,
  );
  if (job.status === "queued") await queueJob(sql, ctx.queue, job, settings.publicUrl, ctx.log);
  const where = hosts.length === 1 ? hosts[0]!.name : t("view.n_hosts", { count: hosts.length });
  // A private note, said once: the job's own messages in the channel carry its state from here (so no success tone).
  if (reasons.length === 0) return privateText(t("run.queued", { id: job.id, where }));
  return privateReply({
    text: t("run.needs_approval_title", { id: job.id }),
    tone: "warning",
    blocks: [
      { type: "text", text: t("run.needs_approval", { id: job.id, where }) },
      { type: "text", text: reasons.map((r) => `• ${r}`).join("\n") },
      { type: "context", text: t("run.approver_hint") },
    ],
  });
}

export const run: Handler<"run"> = (ctx, event, cmd, scope) => submit(ctx, event, { ...cmd, kind: "command" }, scope.hosts);

export const script: Handler<"script"> = async (ctx, event, cmd, scope) => {
  if (cmd.script !== undefined) return submit(ctx, event, { ...cmd, kind: "script", command: cmd.script }, scope.hosts);
  // No script in the message: ask for it in a private form, carrying the target and options
  // (the submitted form is authorised again, on the hosts the target names then).
  return {
    kind: "form",
    form: {
      action: encodeAction({ kind: "script", target: encodeScriptTarget(cmd) }),
      title: ctx.t("run.form.title"),
      submitLabel: ctx.t("run.form.submit"),
      fields: [
        { id: "script", label: truncate(ctx.t("run.form.label", { target: cmd.target }), 45), multiline: true, maxLength: 4000, placeholder: ctx.t("run.form.placeholder") },
      ],
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
