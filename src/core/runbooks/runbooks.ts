import { can, canEverywhere, ROLES, type Principal, type Right, type Role } from "../access/access.js";
import type { Sql } from "../db.js";
import { TestumError } from "../errors.js";
import type { Host } from "../hosts/hosts.js";
import { msg, type Message } from "../chat/i18n.js";
import { listRiskPatterns, riskMessages } from "../access/risk.js";
import { parseTemplate, renderTemplate, type Template } from "./runbook-template.js";
import { parseTarget, selectHosts } from "../hosts/targets.js";

/**
 * Runbooks: commands an admin agreed on, with typed parameters, that people
 * run by name. Each has its own target, the role it takes to run it, and
 * its own approval setting.
 */
export type RunbookApproval = "auto" | "always" | "reviewed";

export const RUNBOOK_APPROVALS: readonly RunbookApproval[] = ["auto", "always", "reviewed"];

export interface Runbook {
  readonly id: number;
  readonly name: string;
  readonly target: string;
  /** The command template (see runbook-template.ts). */
  readonly command: string;
  readonly description: string;
  /**
   * `auto`: the usual rules (risky patterns, hosts tagged approval=required,
   * more hosts than TESTUM_APPROVAL_HOSTS); `always`: every run waits for an
   * approval; `reviewed`: the template was reviewed, so the risky patterns
   * are not applied, the host rules still are.
   */
  readonly approval: RunbookApproval;
  /** The role, on every target host, that it takes to run it. */
  readonly role: Role;
  readonly timeoutMs: number | null;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly updatedBy: string;
  readonly updatedAt: Date;
}

/** What defines a runbook (what import and export carry). */
export interface RunbookInput {
  readonly name: string;
  readonly target: string;
  readonly command: string;
  readonly description?: string | undefined;
  readonly approval?: RunbookApproval | undefined;
  readonly role?: Role | undefined;
  readonly timeoutMs?: number | undefined;
}

export const RUNBOOK_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const MAX_DESCRIPTION = 300;

/** The right a role stands for: what running a runbook that asks for the role checks on each host. */
export const RIGHT_OF_ROLE: Readonly<Record<Role, Right>> = { viewer: "view", operator: "run", approver: "approve", "free-form": "run", admin: "admin" };

/** Roles a runbook may ask for (free-form is about commands outside runbooks). */
export const RUNBOOK_ROLES: readonly Role[] = ROLES.filter((r) => r !== "free-form");

/** Checks everything about a runbook but whether its name is taken; returns it with defaults filled in. */
export function validateRunbook(input: RunbookInput): Required<Omit<RunbookInput, "timeoutMs">> & { timeoutMs: number | undefined; template: Template } {
  if (!RUNBOOK_NAME.test(input.name)) throw new TestumError("invalid_input", msg("runbook.bad_name", { name: input.name.slice(0, 80) }));
  parseTarget(input.target);
  const template = parseTemplate(input.command);
  const description = (input.description ?? "").trim();
  if (description.length > MAX_DESCRIPTION) throw new TestumError("invalid_input", msg("runbook.description_too_long", { max: MAX_DESCRIPTION }));
  const approval = input.approval ?? "auto";
  if (!RUNBOOK_APPROVALS.includes(approval))
    throw new TestumError("invalid_input", msg("runbook.bad_approval", { value: String(approval), choices: RUNBOOK_APPROVALS.join(", ") }));
  const role = input.role ?? "operator";
  if (!RUNBOOK_ROLES.includes(role)) throw new TestumError("invalid_input", msg("runbook.bad_role", { value: String(role), choices: RUNBOOK_ROLES.join(", ") }));
  const timeoutMs = input.timeoutMs;
  if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 1000 || timeoutMs > 7 * 86_400_000)) {
    throw new TestumError("invalid_input", msg("runbook.bad_timeout"));
  }
  return { name: input.name, target: input.target, command: input.command, description, approval, role, timeoutMs, template };
}

/** The command a runbook runs with these parameter values (validated and quoted). */
export function runbookCommand(runbook: Pick<Runbook, "name" | "command">, values: Readonly<Record<string, string>>): string {
  return renderTemplate(runbook.name, parseTemplate(runbook.command), values);
}

export async function getRunbook(sql: Sql, name: string): Promise<Runbook> {
  const [runbook] = await sql<Runbook[]>`select * from runbooks where name = ${name.toLowerCase()}`;
  if (!runbook) throw new TestumError("invalid_input", msg("runbook.unknown", { name: name.slice(0, 80) }));
  return runbook;
}

export async function listRunbooks(sql: Sql): Promise<Runbook[]> {
  return sql<Runbook[]>`select * from runbooks order by name`;
}

/** Adds a runbook, or replaces the one of that name when `replace`; says which happened. */
export async function saveRunbook(sql: Sql, by: string, input: RunbookInput, replace: boolean): Promise<{ runbook: Runbook; outcome: "added" | "updated" | "unchanged" }> {
  const v = validateRunbook(input);
  const [existing] = await sql<Runbook[]>`select * from runbooks where name = ${v.name}`;
  if (existing && !replace) throw new TestumError("conflict", msg("runbook.exists", { name: v.name }));
  if (existing && sameDefinition(existing, v)) return { runbook: existing, outcome: "unchanged" };
  const [runbook] = await sql<Runbook[]>`
    insert into runbooks (name, target, command, description, approval, role, timeout_ms, created_by, updated_by)
    values (${v.name}, ${v.target}, ${v.command}, ${v.description}, ${v.approval}, ${v.role}, ${v.timeoutMs ?? null}, ${by}, ${by})
    on conflict (name) do update set target = excluded.target, command = excluded.command, description = excluded.description,
      approval = excluded.approval, role = excluded.role, timeout_ms = excluded.timeout_ms, updated_by = excluded.updated_by, updated_at = now()
    returning *`;
  return { runbook: runbook!, outcome: existing ? "updated" : "added" };
}

function sameDefinition(a: Runbook, b: ReturnType<typeof validateRunbook>): boolean {
  return (
    a.target === b.target &&
    a.command === b.command &&
    a.description === b.description &&
    a.approval === b.approval &&
    a.role === b.role &&
    (a.timeoutMs ?? undefined) === b.timeoutMs
  );
}

/** Removes a runbook; refused while a schedule runs it. */
export async function removeRunbook(sql: Sql, name: string): Promise<Runbook> {
  const runbook = await getRunbook(sql, name);
  const users = await sql<{ id: number }[]>`select id from schedules where runbook = ${runbook.name} order by id`;
  if (users.length > 0) throw new TestumError("conflict", msg("runbook.used_by_schedules", { name: runbook.name, schedules: users.map((s) => `#${s.id}`).join(", ") }));
  await sql`delete from runbooks where id = ${runbook.id}`;
  return runbook;
}

/** Why a run needs approval: the risk policy, as a runbook's own approval setting adjusts it. */
export async function commandRisks(
  sql: Sql,
  input: { readonly command: string; readonly runbook?: { readonly name: string; readonly approval: RunbookApproval } | undefined },
  hosts: readonly Host[],
  maxHostsWithoutApproval: number,
): Promise<Message[]> {
  // A reviewed runbook's template was agreed on: the command patterns are not applied to it.
  const patterns = input.runbook?.approval === "reviewed" ? [] : await listRiskPatterns(sql);
  const always = input.runbook?.approval === "always" ? [msg("risk.runbook_always", { name: input.runbook.name })] : [];
  return [...always, ...riskMessages(input.command, hosts, patterns, { maxHostsWithoutApproval })];
}

/** A runbook is shown to whoever may see every host its target names (one that names nothing: whoever sees everything). */
export function runbookVisible(principal: Principal, hosts: readonly Host[], runbook: Pick<Runbook, "target">): boolean {
  try {
    return selectHosts(hosts, parseTarget(runbook.target), runbook.target).every((h) => can(principal, "view", h));
  } catch {
    return canEverywhere(principal, "view");
  }
}
