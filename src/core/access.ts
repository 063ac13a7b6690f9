import type { Actor } from "./chat.js";
import type { Sql } from "./db.js";
import { NotAllowedError, TestumError } from "./errors.js";
import type { Host } from "./hosts.js";

/**
 * Who may do what: roles bound to identities or platform groups, each scoped
 * to a host selector (a host name, `tag=value`, or `*`).
 */
export type Role = "viewer" | "operator" | "approver" | "admin";
export type Right = "view" | "run" | "approve" | "admin";

export const ROLES: readonly Role[] = ["viewer", "operator", "approver", "admin"];

const RIGHTS: Record<Role, readonly Right[]> = {
  viewer: ["view"],
  operator: ["view", "run"],
  approver: ["view", "approve"],
  admin: ["view", "run", "approve", "admin"],
};

/** The role that grants a right with the least else, for messages. */
const ROLE_FOR: Record<Right, Role> = { view: "viewer", run: "operator", approve: "approver", admin: "admin" };

export interface Binding {
  readonly id: number;
  readonly subject: string;
  readonly role: Role;
  readonly selector: string;
  readonly createdBy: string;
  readonly createdAt: Date;
}

/** An actor with the bindings that apply to them. */
export interface Principal {
  readonly actor: Actor;
  readonly bindings: readonly Binding[];
  /** Listed in TESTUM_ADMINS: admin everywhere. */
  readonly configuredAdmin: boolean;
}

export function validateSelector(selector: string): string {
  if (selector === "*" || /^[a-z0-9._-]{1,63}$/.test(selector) || /^[a-z0-9_.-]{1,63}=\S{0,200}$/i.test(selector)) return selector;
  throw new TestumError("invalid_input", `"${selector}" is not a scope: use a host name, tag=value, or *`);
}

export function selectorMatches(selector: string, host: Pick<Host, "name" | "tags">): boolean {
  if (selector === "*") return true;
  const eq = selector.indexOf("=");
  if (eq === -1) return host.name === selector;
  return host.tags[selector.slice(0, eq).toLowerCase()] === selector.slice(eq + 1);
}

export async function loadPrincipal(sql: Sql, actor: Actor, admins: readonly string[]): Promise<Principal> {
  const subjects = [actor.id, ...actor.groups];
  const bindings = await sql<Binding[]>`select * from role_bindings where subject in ${sql(subjects)} order by id`;
  return { actor, bindings, configuredAdmin: admins.includes(actor.id) };
}

export function can(principal: Principal, right: Right, host: Pick<Host, "name" | "tags">): boolean {
  return principal.configuredAdmin || principal.bindings.some((b) => RIGHTS[b.role].includes(right) && selectorMatches(b.selector, host));
}

/** Holds the right on some scope (enough to list what that scope shows). */
export function canSomewhere(principal: Principal, right: Right): boolean {
  return principal.configuredAdmin || principal.bindings.some((b) => RIGHTS[b.role].includes(right));
}

/** Holds the right on `*` (needed for testum-wide changes: grants, keys, new hosts). */
export function canEverywhere(principal: Principal, right: Right): boolean {
  return principal.configuredAdmin || principal.bindings.some((b) => RIGHTS[b.role].includes(right) && b.selector === "*");
}

export function describeBindings(principal: Principal): string {
  if (principal.configuredAdmin) return "admin on * (TESTUM_ADMINS)";
  if (principal.bindings.length === 0) return "no roles";
  return principal.bindings.map((b) => `${b.role} on ${b.selector}${b.subject === principal.actor.id ? "" : ` (via ${b.subject})`}`).join(", ");
}

function refusal(principal: Principal, right: Right, where: string): NotAllowedError {
  return new NotAllowedError(
    `you need ${ROLE_FOR[right]} (the ${right} right) ${where}. You have: ${describeBindings(principal)}. Your identity is ${principal.actor.id}; an admin can grant it.`,
  );
}

/** Requires the right on every host; the refusal names the hosts where it is missing. */
export function requireOnHosts(principal: Principal, right: Right, hosts: ReadonlyArray<Pick<Host, "name" | "tags">>): void {
  const missing = hosts.filter((h) => !can(principal, right, h)).map((h) => h.name);
  if (missing.length > 0) {
    const list = missing.length > 5 ? `${missing.slice(0, 5).join(", ")} and ${missing.length - 5} more` : missing.join(", ");
    throw refusal(principal, right, `on ${list}`);
  }
}

export function requireEverywhere(principal: Principal, right: Right): void {
  if (!canEverywhere(principal, right)) throw refusal(principal, right, "on * (all hosts)");
}

export function requireSomewhere(principal: Principal, right: Right): void {
  if (!canSomewhere(principal, right)) throw refusal(principal, right, "on at least one host");
}

export async function listBindings(sql: Sql): Promise<Binding[]> {
  return sql<Binding[]>`select * from role_bindings order by subject, role, selector`;
}

export async function grant(sql: Sql, by: string, subject: string, role: Role, selector: string): Promise<boolean> {
  const rows = await sql`
    insert into role_bindings (subject, role, selector, created_by) values (${subject}, ${role}, ${validateSelector(selector)}, ${by})
    on conflict (subject, role, selector) do nothing returning id`;
  return rows.length === 1;
}

export async function revokeBinding(sql: Sql, subject: string, role: Role, selector: string): Promise<boolean> {
  const rows = await sql`delete from role_bindings where subject = ${subject} and role = ${role} and selector = ${selector} returning id`;
  return rows.length === 1;
}

/** A subject as people write it: `@slack:T:U`, `slack:T:U`, `@discord:G:role:R`. */
export function parseSubject(text: string): string {
  const subject = text.replace(/^@/, "");
  if (!/^(slack|discord|local):[A-Za-z0-9_.:-]+$/.test(subject)) {
    throw new TestumError("invalid_input", `"${text}" is not a user or group: mention them (@name), or give an identity such as slack:T0123:U0456`);
  }
  return subject;
}

export function parseRole(text: string): Role {
  const role = text.toLowerCase();
  if (!(ROLES as readonly string[]).includes(role)) throw new TestumError("invalid_input", `"${text}" is not a role: use ${ROLES.join(", ")}`);
  return role as Role;
}
