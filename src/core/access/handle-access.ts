import { describeBindings, grant as addBinding, listBindings, parseRole, parseSubject, revokeBinding } from "./access.js";
import { auditJob, listAudit } from "./audit.js";
import { parseDuration } from "../duration.js";
import { TestumError } from "../errors.js";
import { msg, say } from "../chat/i18n.js";
import { listing, privateReply, privateText } from "../chat/replies.js";
import { addRiskPattern, describeRisk, listRiskPatterns, removeRiskPattern } from "./risk.js";
import type { Handler } from "../commands/handler-context.js";
import { formatTime } from "../chat/time.js";

export const grant: Handler<"grant"> = async (ctx, event, cmd) => {
  const subject = parseSubject(cmd.subject, ctx.settings.identities);
  const role = parseRole(cmd.role);
  const added = await addBinding(ctx.sql, event.actor.id, subject, role, cmd.scope);
  await ctx.audit("access.grant", added ? "granted" : "unchanged", subject, { role, scope: cmd.scope });
  return privateText(ctx.t(added ? "access.granted" : "access.already", { subject, role, scope: cmd.scope }), "success");
};

export const revoke: Handler<"revoke"> = async (ctx, _event, cmd) => {
  const subject = parseSubject(cmd.subject, ctx.settings.identities);
  const role = parseRole(cmd.role);
  const removed = await revokeBinding(ctx.sql, subject, role, cmd.scope);
  await ctx.audit("access.revoke", removed ? "revoked" : "unchanged", subject, { role, scope: cmd.scope });
  if (!removed) throw new TestumError("invalid_input", msg("access.not_held", { subject, role, scope: cmd.scope }));
  return privateText(ctx.t("access.revoked", { subject, role, scope: cmd.scope }), "success");
};

export const access: Handler<"access"> = async (ctx) => {
  const bindings = await listBindings(ctx.sql);
  const lines = [
    ...ctx.settings.admins.map((a) => ctx.t("access.list.admin", { subject: a.padEnd(40), role: "admin".padEnd(10) })),
    ...bindings.map((b) => ctx.t("access.list.binding", { subject: b.subject.padEnd(40), role: b.role.padEnd(10), scope: b.selector, by: b.createdBy })),
  ];
  return privateReply(listing(ctx.t("access.list.title", { count: lines.length }), lines, undefined, { wrap: true }));
};

export const whoami: Handler<"whoami"> = async (ctx, event) => {
  const { t } = ctx;
  const principal = await ctx.principal();
  const lines = [event.actor.name ? t("access.whoami.identity_named", { id: event.actor.id, name: event.actor.name }) : t("access.whoami.identity", { id: event.actor.id })];
  if (event.actor.groups.length > 0) lines.push(t("access.whoami.groups", { groups: event.actor.groups.join(", ") }));
  lines.push(t("access.whoami.roles", { roles: describeBindings(principal, t) }));
  return privateReply(listing(t("access.whoami.title"), lines));
};

/** `user=… host=… action=… since=…` filters of the chat audit command. */
function auditFilter(words: readonly string[]) {
  const filter: { limit: number; actor?: string; target?: string; action?: string; since?: Date } = { limit: 25 };
  for (const word of words) {
    const eq = word.indexOf("=");
    const key = word.slice(0, eq);
    const value = word.slice(eq + 1);
    if (eq <= 0 || value === "") throw new TestumError("invalid_input", msg("audit.bad_filter", { word }));
    if (key === "user") filter.actor = value.replace(/^@/, "");
    else if (key === "host") filter.target = value;
    else if (key === "action") filter.action = value;
    else if (key === "since") {
      const ago = parseDuration(value);
      const date = ago !== undefined ? new Date(Date.now() - ago) : new Date(value);
      if (Number.isNaN(date.getTime())) throw new TestumError("invalid_input", msg("audit.bad_since", { value }));
      filter.since = date;
    } else throw new TestumError("invalid_input", msg("audit.unknown_filter", { key }));
  }
  return filter;
}

export const audit: Handler<"audit"> = async (ctx, _event, cmd) => {
  const rows = await listAudit(ctx.sql, auditFilter(cmd.filters));
  // One entry in two short lines: when and who; then what, on what, how it ended, and the job it was about.
  const lines = rows.flatMap((r) => {
    const job = auditJob(r.detail);
    return [`${formatTime(r.at, "seconds")} · ${r.actorName ?? r.actor}`, `    ${r.action} ${r.target ?? "-"} → ${r.outcome}${job ? ` · ${ctx.t("audit.job", { id: job })}` : ""}`];
  });
  return privateReply(listing(ctx.t("audit.title", { count: rows.length }), lines, ctx.t("audit.footer"), { wrap: true }));
};

export const riskList: Handler<"risk.list"> = async (ctx) => {
  const patterns = await listRiskPatterns(ctx.sql);
  // One pattern in two lines: what it catches, then the expression itself.
  const width = Math.max(0, ...patterns.map((p) => String(p.id).length)) + 3;
  const lines = patterns.flatMap((p) => [`${`#${p.id}`.padEnd(width)}${say(ctx.t, describeRisk(p))}`, `${" ".repeat(width)}${p.pattern}`]);
  return privateReply(listing(ctx.t("risk.list.title"), lines, ctx.t("risk.list.footer", { count: ctx.settings.approvalHosts }), { wrap: true }));
};

export const riskAdd: Handler<"risk.add"> = async (ctx, _event, cmd) => {
  const pattern = await addRiskPattern(ctx.sql, (await ctx.principal()).actor.id, cmd.pattern, cmd.description);
  await ctx.audit("risk.add", "added", `#${pattern.id}`, { pattern: pattern.pattern, description: pattern.description });
  return privateText(ctx.t("risk.added", { id: pattern.id, description: pattern.description }), "success");
};

export const riskRm: Handler<"risk.rm"> = async (ctx, _event, cmd) => {
  const pattern = await removeRiskPattern(ctx.sql, cmd.id);
  await ctx.audit("risk.remove", "removed", `#${pattern.id}`, { pattern: pattern.pattern, description: pattern.description });
  return privateText(ctx.t("risk.removed", { id: pattern.id, description: pattern.description }), "success");
};
