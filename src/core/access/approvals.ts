import { createHash } from "node:crypto";
import { encodeAction } from "../commands/actions.js";
import { canonicalJson } from "./audit.js";
import { displayName, type Block, type View } from "../chat/chat.js";
import type { Sql } from "../db.js";
import type { Host } from "../hosts/hosts.js";
import { LANGS, msg, say, translator, type Lang, type Param, type Translator } from "../chat/i18n.js";
import { scriptExcerpt } from "../chat/job-view.js";
import { inEachLang, type Job } from "../jobs/jobs.js";
import { truncate } from "../jobs/tail.js";
import { formatTime as time } from "../chat/time.js";

/** Approvals of risky jobs: what an approval is bound to, and how a request looks. */

export interface Decision {
  readonly approver: string;
  readonly approverName: string | null;
  readonly decision: "approve" | "reject";
  readonly reason: string | null;
  readonly at: Date;
}

/** What an approval covers: the kind and text of the command, the exact resolved hosts and the options. */
export function approvalHash(
  job: { readonly kind: "command" | "script"; readonly command: string },
  hosts: ReadonlyArray<Pick<Host, "id" | "name">>,
  options: Readonly<Record<string, unknown>>,
): string {
  const hostSet = hosts.map((h) => `${h.id}:${h.name}`).sort();
  return createHash("sha256")
    .update(canonicalJson({ kind: job.kind, command: job.command, hosts: hostSet, options }))
    .digest("hex");
}

export async function listDecisions(sql: Sql, jobId: number): Promise<Decision[]> {
  return sql<Decision[]>`select approver, approver_name, decision, reason, at from approvals where job_id = ${jobId} order by at`;
}

const who = (d: Decision) => displayName(d.approverName, d.approver);

/**
 * The language of a job's approval request. The request is addressed to its
 * approvers, not to the requester, so it is written in the deployment's
 * language (TESTUM_LANG), chosen when the job was requested and kept in its
 * options; jobs from before use the job's language.
 */
export function requestLang(job: Pick<Job, "lang" | "options">): Lang {
  const chosen = (job.options as { approvalLang?: unknown }).approvalLang;
  return LANGS.includes(chosen as Lang) ? (chosen as Lang) : job.lang;
}

/** At most 12 names, then how many more. */
export function someNames(names: readonly string[], shown = 12): Param {
  return names.length > shown ? msg("list.and_more", { items: names.slice(0, shown), count: names.length - shown }) : names.join(", ");
}

/** The request message in the job's thread, in every state it goes through, in the language of `t` (see requestLang). */
export function renderRequest(
  job: Job,
  hostNames: readonly string[],
  decisions: readonly Decision[],
  t: Translator = translator(requestLang(job)),
  note?: string,
  publicUrl?: string,
): View {
  const approvals = decisions.filter((d) => d.decision === "approve");
  const rejection = decisions.find((d) => d.decision === "reject");
  const fields = [
    { label: t("view.requested_by"), value: displayName(job.requestedByName, job.requestedBy) },
    job.kind === "script"
      ? { label: t("view.script"), value: t("view.script_lines", { count: job.command.replace(/\n+$/, "").split("\n").length }) }
      : { label: t("view.command"), value: truncate(job.command, 900) },
    { label: t("view.hosts_count", { count: hostNames.length }), value: say(t, someNames(hostNames)) },
    { label: t("approval.why"), value: job.approvalReasons.join("\n") || "—" },
  ];
  const blocks: Block[] = [];
  let headline: string;
  let tone: View["tone"] = "warning";
  switch (job.status) {
    case "awaiting_approval":
      headline = t("approval.headline.pending", { id: job.id });
      break;
    case "rejected":
      headline = rejection ? t("approval.headline.rejected_by", { id: job.id, who: who(rejection), at: time(rejection.at) }) : t("approval.headline.rejected", { id: job.id });
      tone = "failure";
      break;
    case "expired":
      headline = t("approval.headline.expired", { id: job.id });
      tone = "neutral";
      break;
    case "cancelled":
      // Cancelled while it waited: nothing ran, and the request can no longer be decided.
      if (approvals.length < job.approvalsRequired) {
        headline = t("approval.headline.cancelled", { id: job.id });
        tone = "neutral";
        break;
      }
      headline = t("approval.headline.approved", { id: job.id, approvals: approvals.map((a) => msg("approval.who_at", { who: who(a), at: time(a.at) })) });
      tone = "success";
      break;
    default:
      headline = t("approval.headline.approved", { id: job.id, approvals: approvals.map((a) => msg("approval.who_at", { who: who(a), at: time(a.at) })) });
      tone = "success";
  }
  blocks.push({ type: "heading", text: headline }, { type: "fields", fields });
  // An approver sees what they approve: the script itself, not only its name.
  if (job.kind === "script") blocks.push(...scriptExcerpt(job, t, publicUrl));
  if (rejection?.reason) blocks.push({ type: "text", text: t("approval.reason", { reason: rejection.reason }) });
  if (note) blocks.push({ type: "text", text: note });
  if (job.status === "awaiting_approval") {
    const parts = [t("approval.needs", { count: job.approvalsRequired })];
    if (approvals.length > 0) parts.push(t("approval.so_far", { names: approvals.map(who).join(", ") }));
    if (job.approvalExpiresAt) parts.push(t("approval.expires", { at: time(job.approvalExpiresAt) }));
    parts.push(t("approval.or_type", { id: job.id }));
    blocks.push({ type: "context", text: parts.join(" ") });
    blocks.push({
      type: "actions",
      buttons: [
        { label: t("button.approve"), action: encodeAction({ kind: "approve", job: job.id }), style: "primary" },
        { label: t("button.reject"), action: encodeAction({ kind: "reject", job: job.id }), style: "danger" },
      ],
    });
  }
  return { text: headline, tone, blocks, lang: t.lang };
}

/**
 * Marks requests that waited past their expiry as expired, in the caller's
 * transaction. Returns them.
 */
export async function expireApprovals(tx: Sql): Promise<Job[]> {
  return tx<Job[]>`
    update jobs set status = 'expired', finished_at = now(), error = ${inEachLang(tx, "jobs.error.expired")}
    where status = 'awaiting_approval' and approval_expires_at < now()
    returning *`;
}
