/**
 * Every action the audit log records, one name each (`noun.verb`). A record
 * is written with one of these; a request refused before it ran is recorded
 * under the action it would have been (see `REQUEST_ACTIONS` in authorize.ts).
 */
export const AUDIT_ACTIONS = [
  // Jobs: asked for, started, each host's outcome, ended, cancelled, leftovers stopped, read.
  "job.request",
  "job.start",
  "job.task",
  "job.end",
  "job.cancel",
  "job.stop_leftovers",
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

/**
 * Older records name some actions as the command was typed (`hosts.rm` for
 * `host.remove`). They stay as written (their hashes cover them); a search
 * for an action finds them under either name.
 */
const FORMER: Readonly<Record<string, AuditAction>> = {
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
  identity: "identity.show",
  "keys.rm": "keys.remove",
  grant: "access.grant",
  revoke: "access.revoke",
  access: "access.show",
  whoami: "access.whoami",
  audit: "audit.read",
  "risk.rm": "risk.remove",
  "schedule.rm": "schedule.remove",
  "hosts.via": "host.via",
  "runbook.rm": "runbook.remove",
  "schedule.approval": "schedule.approve",
};

export function formerNames(action: string): string[] {
  return Object.entries(FORMER)
    .filter(([, name]) => name === action)
    .map(([old]) => old);
}
