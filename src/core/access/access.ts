import type { Actor } from "../chat/chat.js";
import { isIdentity, type IdentityForms } from "./chat-identities.js";
import { truncate } from "../jobs/tail.js";
import type { Sql } from "../db.js";
import { NotAllowedError, TestumError } from "../errors.js";
import type { Host } from "../hosts/hosts.js";
import { english, msg, say, type Message, type Param, type Translator } from "../chat/i18n.js";

/**
 * Who may do what: roles bound to identities or platform groups, each scoped
 * to a host selector (a host name, `tag=value`, or `*`).
 *
 * `free-form` is the right to run commands of one's own (`run`, `script`,
 * a schedule's command) where TESTUM_MODE=allowlist: there, `run` alone
 * lets an operator run runbooks only. Outside allowlist mode `run` is
 * enough for both.
 */
export type Role = "viewer" | "operator" | "free-form" | "approver" | "admin";
export type Right = "view" | "run" | "free-form" | "approve" | "admin";

export const ROLES: readonly Role[] = ["viewer", "operator", "free-form", "approver", "admin"];

const RIGHTS: Record<Role, readonly Right[]> = {
  viewer: ["view"],
  operator: ["view", "run"],
  "free-form": ["view", "run", "free-form"],
  approver: ["view", "approve"],
  admin: ["view", "run", "free-form", "approve", "admin"],
};

/** The role that grants a right with the least else, for messages. */
const ROLE_FOR: Record<Right, Role> = { view: "viewer", run: "operator", "free-form": "free-form", approve: "approver", admin: "admin" };

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
  throw new TestumError("invalid_input", msg("access.bad_scope", { scope: selector }));
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

/** The actor's roles, to be said later: "operator on role=web, viewer on * (via …)". */
function bindingsMessage(principal: Principal): Param {
  if (principal.configuredAdmin) return msg("access.configured_admin");
  if (principal.bindings.length === 0) return msg("access.no_roles");
  const each = principal.bindings.map((b) =>
    b.subject === principal.actor.id ? msg("access.binding", { role: b.role, scope: b.selector }) : msg("access.binding_via", { role: b.role, scope: b.selector, via: b.subject }),
  );
  return each;
}

export function describeBindings(principal: Principal, t: Translator = english): string {
  return say(t, bindingsMessage(principal));
}

function refusal(principal: Principal, right: Right, where: Message, hosts?: readonly string[]): NotAllowedError {
  return new NotAllowedError(msg("access.refusal", { role: ROLE_FOR[right], right, where, have: bindingsMessage(principal), identity: principal.actor.id }), { right, hosts });
}

/** Requires the right on every host; the refusal names the hosts where it is missing. */
export function requireOnHosts(principal: Principal, right: Right, hosts: ReadonlyArray<Pick<Host, "name" | "tags">>): void {
  const missing = hosts.filter((h) => !can(principal, right, h)).map((h) => h.name);
  if (missing.length > 0) {
    const list = missing.length > 5 ? msg("list.and_more", { items: missing.slice(0, 5), count: missing.length - 5 }) : missing.join(", ");
    throw refusal(principal, right, msg("access.where.hosts", { hosts: list }), missing);
  }
}

export function requireEverywhere(principal: Principal, right: Right): void {
  if (!canEverywhere(principal, right)) throw refusal(principal, right, msg("access.where.everywhere"), ["*"]);
}

/**
 * Requires the right on at least one host. `named`: what the person typed
 * (a target, a host name), which the refusal names as they wrote it; it is
 * not looked up, so the refusal tells nothing about which hosts exist.
 */
export function requireSomewhere(principal: Principal, right: Right, named?: string): void {
  if (!canSomewhere(principal, right)) throw refusal(principal, right, named ? msg("access.where.hosts", { hosts: truncate(named, 80) }) : msg("access.where.somewhere"));
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

/** A subject as people write it: `@slack:T:U`, `slack:T:U`, `@discord:G:role:R`; one of `forms`. */
export function parseSubject(text: string, forms: IdentityForms): string {
  const subject = text.replace(/^@/, "");
  if (!isIdentity(forms, subject)) {
    throw new TestumError("invalid_input", msg("access.bad_subject", { text, example: forms.examples[0] ?? "" }));
  }
  return subject;
}

export function parseRole(text: string): Role {
  const role = text.toLowerCase();
  if (!(ROLES as readonly string[]).includes(role)) throw new TestumError("invalid_input", msg("access.bad_role", { text, roles: ROLES.join(", ") }));
  return role as Role;
}
