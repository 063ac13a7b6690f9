import type { RequestName } from "../commands/command-types.js";

/**
 * Every action the audit log records, one name each (`noun.verb`). A record
 * is written with one of these; a request refused before it ran is recorded
 * under the action it would have been (REQUEST_ACTIONS below).
 */
export const AUDIT_ACTIONS = [
  // Jobs: asked for, started, each host's outcome, ended, cancelled, leftovers stopped, queued again, read.
  "job.request",
  "job.start",
  "job.task",
  "job.end",
  "job.cancel",
  "job.stop_leftovers",
  "job.requeue",
  "job.list",
  "job.show",
  "job.logs",
  "job.revoke_links",
  // Approvals of jobs.
  "approval.approve",
  "approval.reject",
  "approval.granted",
  "approval.changed",
  "approval.expire",
  "approval.click",
  "approval.requester_check",
  // Hosts and their keys.
  "host.add",
  "host.remove",
  "host.tag",
  "host.untag",
  "host.test",
  "host.import",
  "host.credential",
  "host.list",
  "host.show",
  "host.via",
  "host_key.pin",
  "host_key.mismatch",
  "host_key.repin",
  // Team keys, testum's identity, secrets.
  "keys.add",
  "keys.remove",
  "keys.deploy",
  "keys.revoke",
  "keys.list",
  "keys.status",
  "identity.show",
  "identity.rotate",
  "secrets.rotate",
  // Who may do what.
  "access.grant",
  "access.revoke",
  "access.show",
  "access.whoami",
  "risk.add",
  "risk.remove",
  "risk.list",
  // What redaction hides in command output.
  "redaction.add",
  "redaction.remove",
  "redaction.list",
  // Schedules.
  "schedule.add",
  "schedule.remove",
  "schedule.pause",
  "schedule.resume",
  "schedule.run",
  "schedule.show",
  "schedule.list",
  "schedule.approve",
  "schedule.reject",
  "schedule.fire",
  "schedule.click",
  // Runbooks.
  "runbook.add",
  "runbook.remove",
  "runbook.list",
  "runbook.show",
  // Requests themselves: unreadable or replayed ones, the audit log read, help.
  "command",
  "request.replay",
  "audit.read",
  "help",
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** The action each request is recorded under (its refusal too). */
export const REQUEST_ACTIONS: { readonly [N in RequestName]: AuditAction } = {
  run: "job.request",
  script: "job.request",
  rb: "job.request",
  cancel: "job.cancel",
  "jobs.revoke-links": "job.revoke_links",
  "jobs.list": "job.list",
  "jobs.show": "job.show",
  logs: "job.logs",
  "hosts.list": "host.list",
  "hosts.show": "host.show",
  "hosts.add": "host.add",
  "hosts.rm": "host.remove",
  "hosts.tag": "host.tag",
  "hosts.untag": "host.untag",
  "hosts.test": "host.test",
  "hosts.repin": "host_key.repin",
  "hosts.secret": "host.credential",
  "hosts.via": "host.via",
  identity: "identity.show",
  "keys.list": "keys.list",
  "keys.add": "keys.add",
  "keys.rm": "keys.remove",
  "keys.deploy": "keys.deploy",
  "keys.revoke": "keys.revoke",
  "keys.status": "keys.status",
  grant: "access.grant",
  revoke: "access.revoke",
  access: "access.show",
  whoami: "access.whoami",
  approve: "approval.approve",
  reject: "approval.reject",
  audit: "audit.read",
  "risk.list": "risk.list",
  "risk.add": "risk.add",
  "risk.rm": "risk.remove",
  "redact.list": "redaction.list",
  "redact.add": "redaction.add",
  "redact.rm": "redaction.remove",
  "schedule.add": "schedule.add",
  "schedule.rb": "schedule.add",
  "schedule.list": "schedule.list",
  "schedule.show": "schedule.show",
  "schedule.rm": "schedule.remove",
  "schedule.pause": "schedule.pause",
  "schedule.resume": "schedule.resume",
  "schedule.run": "schedule.run",
  "schedule.approve": "schedule.approve",
  "schedule.reject": "schedule.reject",
  "runbook.add": "runbook.add",
  "runbook.list": "runbook.list",
  "runbook.show": "runbook.show",
  "runbook.rm": "runbook.remove",
  help: "help",
};

/**
 * Older records name an action as the command was typed (`hosts.rm` for
 * `host.remove`), and one by an older name of its own. They stay as written
 * (their hashes cover them); a search for an action finds them under either name.
 */
const RENAMED: Readonly<Record<string, AuditAction>> = { "schedule.approval": "schedule.approve" };

export function formerNames(action: string): string[] {
  const typed = Object.entries(REQUEST_ACTIONS).filter(([name, recorded]) => recorded === action && name !== action);
  const renamed = Object.entries(RENAMED).filter(([, now]) => now === action);
  return [...typed, ...renamed].map(([old]) => old);
}
