import type { Job } from "./jobs.js";

/**
 * A job's links (its logs, report and job page) are bearer keys: whoever
 * holds one reads the output. They open for TESTUM_LINK_TTL from the job's
 * creation, and until the requester or an admin revokes them.
 */
export type LinkState =
  | { readonly open: true }
  | { readonly open: false; readonly why: "expired"; readonly at: Date }
  | { readonly open: false; readonly why: "revoked"; readonly at: Date; readonly by: string };

export function linkState(job: Pick<Job, "createdAt" | "linksRevokedAt" | "linksRevokedBy">, ttlMs: number, now = Date.now()): LinkState {
  if (job.linksRevokedAt) return { open: false, why: "revoked", at: job.linksRevokedAt, by: job.linksRevokedBy ?? "" };
  const until = job.createdAt.getTime() + ttlMs;
  if (now >= until) return { open: false, why: "expired", at: new Date(until) };
  return { open: true };
}
