import { createHash } from "node:crypto";
import { encodeAction } from "./actions.js";
import { canonicalJson, recordAudit } from "./audit.js";
import type { Block, View } from "./chat.js";
import type { Sql } from "./db.js";
import type { Host } from "./hosts.js";
import type { Job } from "./jobs.js";

/** Approvals of risky jobs: what an approval is bound to, and how a request looks. */

export interface ApprovalSettings {
  /** Distinct approvers a job needs. */
  readonly required: number;
  readonly ttlMs: number;
}

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
  return createHash("sha256").update(canonicalJson({ kind: job.kind, command: job.command, hosts: hostSet, options })).digest("hex");
}

export async function listDecisions(sql: Sql, jobId: number): Promise<Decision[]> {
  return sql<Decision[]>`select approver, approver_name, decision, reason, at from approvals where job_id = ${jobId} order by at`;
}

const time = (d: Date) => `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
const who = (d: Decision) => d.approverName ?? d.approver;

function compactHosts(names: readonly string[]): string {
  return names.length > 12 ? `${names.slice(0, 12).join(", ")} and ${names.length - 12} more` : names.join(", ");
}

/** The request message in the job's thread, in every state it goes through. */
export function renderRequest(job: Job, hostNames: readonly string[], decisions: readonly Decision[], note?: string): View {
  const approvals = decisions.filter((d) => d.decision === "approve");
  const rejection = decisions.find((d) => d.decision === "reject");
  const fields = [
    { label: "Requested by", value: job.requestedByName ?? job.requestedBy },
    { label: "Command", value: job.command.slice(0, 900) },
    { label: `Hosts (${hostNames.length})`, value: compactHosts(hostNames) },
    { label: "Why approval is needed", value: job.approvalReasons.join("\n") || "—" },
  ];
  const blocks: Block[] = [];
  let headline: string;
  let tone: View["tone"] = "warning";
  switch (job.status) {
    case "awaiting_approval":
      headline = `🔐 Approval needed for job #${job.id}`;
      break;
    case "rejected":
      headline = `🚫 Job #${job.id} rejected${rejection ? ` by ${who(rejection)} at ${time(rejection.at)}` : ""}`;
      tone = "failure";
      break;
    case "expired":
      headline = `⌛ Job #${job.id} was not approved in time; it did not run`;
      tone = "neutral";
      break;
    default:
      headline = `✅ Job #${job.id} approved by ${approvals.map((a) => `${who(a)} at ${time(a.at)}`).join(", ")}`;
      tone = "success";
  }
  blocks.push({ type: "heading", text: headline }, { type: "fields", fields });
  if (rejection?.reason) blocks.push({ type: "text", text: `Reason: ${rejection.reason}` });
  if (note) blocks.push({ type: "text", text: note });
  if (job.status === "awaiting_approval") {
    const expires = job.approvalExpiresAt ? ` Expires ${time(job.approvalExpiresAt)}.` : "";
    const progress = approvals.length > 0 ? ` Approved so far by ${approvals.map(who).join(", ")}.` : "";
    blocks.push({
      type: "context",
      text: `Needs ${job.approvalsRequired} approval${job.approvalsRequired === 1 ? "" : "s"} from approvers of every host, other than the requester.${progress}${expires} Or type /testum approve ${job.id} · /testum reject ${job.id} REASON`,
    });
    blocks.push({
      type: "actions",
      buttons: [
        { label: "Approve", action: encodeAction({ kind: "approve", job: job.id }), style: "primary" },
        { label: "Reject", action: encodeAction({ kind: "reject", job: job.id }), style: "danger" },
      ],
    });
  }
  return { text: headline, tone, blocks };
}

/**
 * Marks requests that waited past their expiry as expired. Returns them, for
 * the caller to update their messages.
 */
export async function expireApprovals(sql: Sql): Promise<Job[]> {
  const jobs = await sql<Job[]>`
    update jobs set status = 'expired', finished_at = now(), error = 'not approved in time; the command did not run'
    where status = 'awaiting_approval' and approval_expires_at < now()
    returning *`;
  for (const job of jobs) {
    await recordAudit(sql, { actor: "system", channel: job.conversation, action: "approval.expire", target: job.target, outcome: "expired", detail: { job: job.id } });
  }
  return jobs;
}
