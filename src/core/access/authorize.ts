import { REQUEST_ACTIONS, type AuditAction } from "./audit-actions.js";
import { canEverywhere, loadPrincipal, requireEverywhere, requireOnHosts, requireSomewhere, type Principal, type Right } from "./access.js";
import type { Request, RequestName } from "../commands/command-types.js";
import type { Sql } from "../db.js";
import { NotAllowedError, TestumError } from "../errors.js";
import type { HandlerContext, Scope } from "../commands/handler-context.js";
import { getHost, getHostsById, type Host } from "../hosts/hosts.js";
import { msg } from "../chat/i18n.js";
import type { PeopleLookup } from "../ports.js";
import { getJob, listTasks, type Job } from "../jobs/jobs.js";
import { getSchedule, type Schedule } from "../schedules/schedules.js";
import { getRunbook, RIGHT_OF_ROLE, type Runbook } from "../runbooks/runbooks.js";
import { resolveTarget } from "../hosts/targets.js";

export type { Scope } from "../commands/handler-context.js";
export type { Request, RequestName } from "../commands/command-types.js";

/**
 * Who may do what, decided in one place for every request. Each request
 * declares what it acts on and the right it needs there; `authorize`
 * resolves those hosts and checks the right on each of them before any
 * handler runs, and hands the handler the hosts it may touch.
 */

/** No right at all (help, whoami). */
type Anyone = { readonly on: "nothing" };
/** A listing: the right on some scope; the handler shows only what `can` allows per host. */
type Somewhere = { readonly on: "somewhere"; readonly right: Right };
/** testum-wide changes: the right on `*`. */
type Everywhere = { readonly on: "everywhere"; readonly right: Right };
/**
 * The hosts `target` names now, every one of them. `freeForm`: the command
 * is the requester's own, so where TESTUM_MODE=allowlist the right needed
 * is `free-form` instead.
 */
type OnTarget = { readonly on: "target"; readonly right: Right; readonly freeForm?: true };
/**
 * The hosts runbook `runbook`'s target names now: with `right`, that right
 * (a target that names nothing: the right on `*`); without, the right of
 * the role the runbook asks for, on every one of them.
 */
type OnRunbook = { readonly on: "runbook"; readonly right?: Right };
/** The registered host `host`. */
type OnHost = { readonly on: "host"; readonly right: Right };
/** The hosts job `job` runs on; `orRequester`: its requester needs nothing. */
type OnJob = { readonly on: "job"; readonly right: Right; readonly orRequester?: true };
/**
 * Schedule `schedule`: its hosts now; `orOwner`: its owner needs nothing
 * here; `onAll`: anyone else needs the right on `*`.
 */
type OnSchedule = { readonly on: "schedule"; readonly right: Right; readonly orOwner?: true; readonly onAll?: true };

export type Need = Anyone | Somewhere | Everywhere | OnTarget | OnRunbook | OnHost | OnJob | OnSchedule;

/**
 * What a request may declare follows from its arguments: a request that
 * names a target or a host must be checked on it (or need the right
 * everywhere), one that names a job on the job's hosts, one that names a
 * schedule on the schedule. A new command with such an argument that
 * declares less does not compile.
 */
export type NeedOf<R> = R extends { readonly target: string }
  ? OnTarget | Everywhere
  : R extends { readonly runbook: string }
    ? OnRunbook | Everywhere
    : R extends { readonly host: string }
      ? OnHost | Everywhere
      : R extends { readonly job: number }
        ? OnJob
        : R extends { readonly schedule: number }
          ? OnSchedule
          : Anyone | Somewhere | Everywhere;

export type Needs = { readonly [N in RequestName]: NeedOf<Extract<Request, { name: N }>> };

export const NEEDS: Needs = {
  run: { on: "target", right: "run", freeForm: true },
  script: { on: "target", right: "run", freeForm: true },
  rb: { on: "runbook" },
  cancel: { on: "job", right: "admin", orRequester: true },
  "jobs.list": { on: "somewhere", right: "view" },
  "jobs.show": { on: "job", right: "view" },
  "jobs.revoke-links": { on: "job", right: "admin", orRequester: true },
  logs: { on: "job", right: "view" },
  "hosts.list": { on: "somewhere", right: "view" },
  "hosts.show": { on: "host", right: "view" },
  "hosts.add": { on: "everywhere", right: "admin" },
  "hosts.rm": { on: "host", right: "admin" },
  // Which bastion carries a host's connections is a testum-wide choice, like adding a host.
  "hosts.via": { on: "everywhere", right: "admin" },
  "hosts.tag": { on: "host", right: "admin" },
  "hosts.untag": { on: "host", right: "admin" },
  "hosts.test": { on: "host", right: "admin" },
  "hosts.repin": { on: "host", right: "admin" },
  "hosts.secret": { on: "host", right: "admin" },
  identity: { on: "somewhere", right: "view" },
  "keys.list": { on: "somewhere", right: "view" },
  "keys.add": { on: "everywhere", right: "admin" },
  "keys.rm": { on: "everywhere", right: "admin" },
  "keys.deploy": { on: "target", right: "admin" },
  "keys.revoke": { on: "target", right: "admin" },
  "keys.status": { on: "target", right: "admin" },
  grant: { on: "everywhere", right: "admin" },
  revoke: { on: "everywhere", right: "admin" },
  access: { on: "everywhere", right: "admin" },
  whoami: { on: "nothing" },
  // The requester passes here to be told, by the handler, that someone else must approve.
  approve: { on: "job", right: "approve", orRequester: true },
  reject: { on: "job", right: "approve", orRequester: true },
  audit: { on: "everywhere", right: "admin" },
  "risk.list": { on: "somewhere", right: "view" },
  "risk.add": { on: "everywhere", right: "admin" },
  "risk.rm": { on: "everywhere", right: "admin" },
  // What output hides is testum-wide, and its patterns may describe secrets' shapes: admins only, listing too.
  "redact.list": { on: "everywhere", right: "admin" },
  "redact.add": { on: "everywhere", right: "admin" },
  "redact.rm": { on: "everywhere", right: "admin" },
  "schedule.add": { on: "target", right: "run", freeForm: true },
  "schedule.rb": { on: "runbook" },
  "schedule.list": { on: "somewhere", right: "view" },
  "schedule.show": { on: "schedule", right: "view" },
  "schedule.rm": { on: "schedule", right: "admin", orOwner: true, onAll: true },
  "schedule.pause": { on: "schedule", right: "admin", orOwner: true, onAll: true },
  "schedule.resume": { on: "schedule", right: "admin", orOwner: true, onAll: true },
  "schedule.run": { on: "schedule", right: "admin", orOwner: true, onAll: true },
  "schedule.approve": { on: "schedule", right: "approve", orOwner: true },
  "schedule.reject": { on: "schedule", right: "approve", orOwner: true },
  "runbook.add": { on: "everywhere", right: "admin" },
  "runbook.list": { on: "somewhere", right: "view" },
  "runbook.show": { on: "runbook", right: "view" },
  "runbook.rm": { on: "everywhere", right: "admin" },
  help: { on: "nothing" },
};

/** A job's hosts that still exist, and whether any of them was removed since. */
export async function jobHosts(ctx: Pick<HandlerContext, "sql">, job: Job): Promise<{ hosts: Host[]; removed: string[] }> {
  const tasks = await listTasks(ctx.sql, job.id);
  const ids = tasks.flatMap((t) => (t.hostId === null ? [] : [t.hostId]));
  const hosts = await getHostsById(ctx.sql, ids);
  const present = new Set(hosts.map((h) => h.id));
  const removed = tasks.filter((t) => t.hostId === null || !present.has(t.hostId)).map((t) => t.hostName);
  return { hosts, removed };
}

/**
 * The right on every host, and, when some of them no longer exist (nobody
 * can tell whose they were), on `*`.
 */
function requireOnAll(principal: Principal, right: Right, hosts: readonly Host[], removed: readonly string[]): void {
  requireOnHosts(principal, right, hosts);
  if (removed.length > 0 && !canEverywhere(principal, right)) {
    throw new NotAllowedError(msg("access.removed_hosts", { hosts: removed.slice(0, 5).join(", "), right }), { right, hosts: [...removed] });
  }
}

/**
 * The hosts `target` names now, each checked for `right`: a request's
 * "target" need, and the same check for work done later in someone's name
 * (a schedule's fire, an approval asked again for hosts that changed).
 */
export async function authorizeTarget(
  sql: Sql,
  principal: Principal | Promise<Principal>,
  right: Right,
  target: string,
  reading: Promise<Host[]> = resolveTarget(sql, target),
): Promise<Host[]> {
  // The hosts are read while the principal is (a read: nothing is said about them before the checks).
  reading.catch(() => {});
  const who = await principal;
  // Someone without the right anywhere learns nothing about which hosts exist.
  requireSomewhere(who, right, target);
  const hosts = await reading;
  requireOnHosts(who, right, hosts);
  return hosts;
}

/** Whether someone may still do, in their absence, what they asked for earlier. */
export type LaterCheck =
  | { readonly state: "allowed"; readonly hosts: Host[] }
  | { readonly state: "denied"; readonly error: TestumError }
  /** Their platform says they are gone, will not say who they are, or cannot answer now. */
  | { readonly state: "gone" | "refused" | "unavailable"; readonly detail: string };

/**
 * The right of someone who is not here (a schedule's owner at a fire, a
 * requester whose request is approved later) on every host: their groups are
 * read again from their platform, never taken from when they asked, and the
 * check is the one every command gets. `target` is a target to resolve now,
 * or hosts already resolved.
 */
export async function authorizeLater(
  deps: { readonly sql: Sql; readonly people: PeopleLookup; readonly admins: readonly string[] },
  person: { readonly id: string; readonly name?: string | null | undefined; readonly conversation: string; readonly fresh?: boolean },
  right: Right,
  target: string | readonly Host[],
): Promise<LaterCheck> {
  const now = await deps.people.lookUp(person.id, person.conversation, { fresh: person.fresh === true });
  if (now.state !== "present") return { state: now.state, detail: now.detail };
  const principal = await loadPrincipal(deps.sql, { id: person.id, name: person.name ?? undefined, groups: now.groups }, deps.admins);
  try {
    if (typeof target === "string") return { state: "allowed", hosts: await authorizeTarget(deps.sql, principal, right, target) };
    requireOnHosts(principal, right, target);
    return { state: "allowed", hosts: [...target] };
  } catch (err) {
    if (err instanceof TestumError) return { state: "denied", error: err };
    throw err;
  }
}

/** The audit action a refused request is recorded under. */
export function auditAction(request: Request): AuditAction {
  return REQUEST_ACTIONS[request.name];
}

function auditTarget(request: Request, scope?: Partial<Scope>): string | undefined {
  if ("target" in request) return request.target;
  if ("host" in request && request.host) return request.host;
  if (scope?.job) return scope.job.target;
  if (scope?.schedule) return scope.schedule.target;
  if (scope?.runbook) return scope.runbook.target;
  if ("runbook" in request) return `runbook:${request.runbook}`;
  return undefined;
}

/** The target a request names, when what it acts on is the hosts that target names (read ahead by app.ts). */
export function targetOf(request: Request): string | undefined {
  return (NEEDS[request.name] as Need).on === "target" ? (request as { target: string }).target : undefined;
}

/**
 * Checks the actor's right for a request on everything it acts on, and
 * returns those things. A refusal names the hosts and the right missing,
 * and is audited as refused.
 */
export async function authorize(ctx: HandlerContext, request: Request): Promise<Scope> {
  const need = NEEDS[request.name] as Need;
  if (need.on === "target") {
    // A target's hosts are read side by side with who is asking (see authorizeTarget).
    const right = need.freeForm && ctx.settings.mode === "allowlist" ? "free-form" : need.right;
    try {
      const { target } = request as { target: string };
      return { hosts: await authorizeTarget(ctx.sql, ctx.principal(), right, target, ctx.targetHosts(target)) };
    } catch (err) {
      await auditRefusal(ctx, request, {}, err);
      throw err;
    }
  }
  const principal = await ctx.principal();
  const found: { job?: Job; schedule?: Schedule; runbook?: Runbook } = {};
  try {
    switch (need.on) {
      case "nothing":
        return { hosts: [] };
      case "somewhere":
        requireSomewhere(principal, need.right);
        return { hosts: [] };
      case "everywhere":
        requireEverywhere(principal, need.right);
        return { hosts: [] };
      case "runbook": {
        const runbook = (found.runbook = await getRunbook(ctx.sql, (request as { runbook: string }).runbook));
        const right = need.right ?? RIGHT_OF_ROLE[runbook.role];
        requireSomewhere(principal, right);
        // Only looking at a runbook whose target names nothing now takes the right everywhere.
        const hosts = need.right ? await resolveTarget(ctx.sql, runbook.target).catch(() => undefined) : await resolveTarget(ctx.sql, runbook.target);
        if (hosts === undefined) requireEverywhere(principal, right);
        else requireOnHosts(principal, right, hosts);
        return { hosts: hosts ?? [], runbook };
      }
      case "host": {
        requireSomewhere(principal, need.right, (request as { host: string }).host);
        const host = await getHost(ctx.sql, (request as { host: string }).host);
        requireOnHosts(principal, need.right, [host]);
        return { hosts: [host] };
      }
      case "job": {
        const job = (found.job = await getJob(ctx.sql, (request as { job: number }).job));
        const { hosts, removed } = await jobHosts(ctx, job);
        if (!(need.orRequester && principal.actor.id === job.requestedBy)) {
          try {
            requireOnAll(principal, need.right, hosts, removed);
          } catch (err) {
            if (!(err instanceof NotAllowedError) || (request.name !== "cancel" && request.name !== "jobs.revoke-links")) throw err;
            const said = request.name === "cancel" ? "jobs.cancel_not_allowed" : "jobs.revoke_links_not_allowed";
            throw new NotAllowedError(msg(said, { id: job.id }), { right: err.right, hosts: err.hosts });
          }
        }
        return { hosts, job };
      }
      case "schedule": {
        const schedule = (found.schedule = await getSchedule(ctx.sql, (request as { schedule: number }).schedule));
        // A target that names no host now can only be looked at by someone who could see any host.
        const hosts = await resolveTarget(ctx.sql, schedule.target).catch(() => undefined);
        if (!(need.orOwner && principal.actor.id === schedule.owner)) {
          if (need.onAll && !canEverywhere(principal, need.right)) {
            throw new NotAllowedError(msg("schedule.not_owner", { id: schedule.id, owner: schedule.ownerName ?? schedule.owner }), { right: need.right, hosts: ["*"] });
          }
          if (hosts === undefined) requireEverywhere(principal, need.right);
          else requireOnHosts(principal, need.right, hosts);
        }
        return { hosts: hosts ?? [], schedule };
      }
    }
  } catch (err) {
    await auditRefusal(ctx, request, found, err);
    throw err;
  }
}

/** A refused request is audited as such (a target that names nothing too), with what it was refused on. */
async function auditRefusal(ctx: HandlerContext, request: Request, found: { job?: Job; schedule?: Schedule; runbook?: Runbook }, err: unknown): Promise<void> {
  if (err instanceof TestumError && !(err instanceof NotAllowedError) && "target" in request) {
    // A target that names nothing (or no such host) is a refused request too.
    await ctx.audit(auditAction(request), "refused", request.target, { reason: err.message });
  } else if (err instanceof NotAllowedError) {
    await ctx.audit(auditAction(request), "refused", auditTarget(request, found), {
      reason: err.message,
      right: err.right ?? null,
      hosts: err.hosts ?? null,
      ...(found.job ? { job: found.job.id } : {}),
      ...(found.schedule ? { schedule: found.schedule.id } : {}),
      ...(found.runbook ? { runbook: found.runbook.name } : {}),
    });
  }
}
