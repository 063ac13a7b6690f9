import { describeBindings, grant as addBinding, listBindings, parseRole, parseSubject, revokeBinding } from "../access.js";
import { listAudit } from "../audit.js";
import { parseDuration } from "../duration.js";
import { TestumError } from "../errors.js";
import { listing, privateReply, privateText } from "../replies.js";
import { addRiskPattern, listRiskPatterns, removeRiskPattern } from "../risk.js";
import type { Handler } from "./context.js";

export const grant: Handler<"grant"> = async (ctx, event, cmd) => {
  const subject = parseSubject(cmd.subject);
  const role = parseRole(cmd.role);
  const added = await addBinding(ctx.sql, event.actor.id, subject, role, cmd.scope);
  await ctx.audit("access.grant", added ? "granted" : "unchanged", subject, { role, scope: cmd.scope });
  return privateText(added ? `${subject} is now ${role} on ${cmd.scope}.` : `${subject} already was ${role} on ${cmd.scope}.`, "success");
};

export const revoke: Handler<"revoke"> = async (ctx, _event, cmd) => {
  const subject = parseSubject(cmd.subject);
  const role = parseRole(cmd.role);
  const removed = await revokeBinding(ctx.sql, subject, role, cmd.scope);
  await ctx.audit("access.revoke", removed ? "revoked" : "unchanged", subject, { role, scope: cmd.scope });
  if (!removed) throw new TestumError("invalid_input", `${subject} does not hold ${role} on ${cmd.scope}; /testum access lists the bindings`);
  return privateText(`${subject} is no longer ${role} on ${cmd.scope}.`, "success");
};

export const access: Handler<"access"> = async (ctx) => {
  const bindings = await listBindings(ctx.sql);
  const lines = [
    ...ctx.settings.admins.map((a) => `${a.padEnd(40)} admin      on *  (TESTUM_ADMINS)`),
    ...bindings.map((b) => `${b.subject.padEnd(40)} ${b.role.padEnd(10)} on ${b.selector}  (by ${b.createdBy})`),
  ];
  return privateReply(listing(`${lines.length} binding${lines.length === 1 ? "" : "s"}`, lines));
};

export const whoami: Handler<"whoami"> = async (ctx, event) => {
  const principal = await ctx.principal();
  const lines = [`identity: ${event.actor.id}${event.actor.name ? ` (${event.actor.name})` : ""}`];
  if (event.actor.groups.length > 0) lines.push(`groups:   ${event.actor.groups.join(", ")}`);
  lines.push(`roles:    ${describeBindings(principal)}`);
  return privateReply(listing("Who you are to testum", lines));
};

/** `user=… host=… action=… since=…` filters of the chat audit command. */
function auditFilter(words: readonly string[]) {
  const filter: { limit: number; actor?: string; target?: string; action?: string; since?: Date } = { limit: 25 };
  for (const word of words) {
    const eq = word.indexOf("=");
    const key = word.slice(0, eq);
    const value = word.slice(eq + 1);
    if (eq <= 0 || value === "") throw new TestumError("invalid_input", `"${word}" is not a filter: use user=…, host=…, action=… or since=…`);
    if (key === "user") filter.actor = value.replace(/^@/, "");
    else if (key === "host") filter.target = value;
    else if (key === "action") filter.action = value;
    else if (key === "since") {
      const ago = parseDuration(value);
      const date = ago !== undefined ? new Date(Date.now() - ago) : new Date(value);
      if (Number.isNaN(date.getTime())) throw new TestumError("invalid_input", `since= expects a date (2026-11-01) or a duration (24h), got "${value}"`);
      filter.since = date;
    } else throw new TestumError("invalid_input", `unknown filter "${key}": use user, host, action or since`);
  }
  return filter;
}

export const audit: Handler<"audit"> = async (ctx, _event, cmd) => {
  const rows = await listAudit(ctx.sql, auditFilter(cmd.filters));
  const lines = rows.map((r) => `${r.at.toISOString().slice(0, 19).replace("T", " ")}  ${r.actorName ?? r.actor}  ${r.action}  ${r.target ?? "-"}  ${r.outcome}`);
  return privateReply(listing(`Audit: the last ${rows.length} matching entr${rows.length === 1 ? "y" : "ies"}`, lines, "npx testum audit list --json exports it all; npx testum audit verify checks the chain."));
};

export const riskList: Handler<"risk.list"> = async (ctx) => {
  const patterns = await listRiskPatterns(ctx.sql);
  const lines = patterns.map((p) => `#${String(p.id).padEnd(4)} ${p.description.padEnd(36)} ${p.pattern}`);
  return privateReply(
    listing(
      "Commands matching these need approval",
      lines,
      `So do runs on hosts tagged approval=required, and runs on more than ${ctx.settings.approvalHosts} hosts. Quoting and extra spaces are ignored when matching.`,
    ),
  );
};

export const riskAdd: Handler<"risk.add"> = async (ctx, _event, cmd) => {
  const pattern = await addRiskPattern(ctx.sql, (await ctx.principal()).actor.id, cmd.pattern, cmd.description);
  await ctx.audit("risk.add", "added", `#${pattern.id}`, { pattern: pattern.pattern, description: pattern.description });
  return privateText(`Added risk pattern #${pattern.id}: ${pattern.description}`, "success");
};

export const riskRm: Handler<"risk.rm"> = async (ctx, _event, cmd) => {
  const pattern = await removeRiskPattern(ctx.sql, cmd.id);
  await ctx.audit("risk.remove", "removed", `#${pattern.id}`, { pattern: pattern.pattern, description: pattern.description });
  return privateText(`Removed risk pattern #${pattern.id} (${pattern.description}).`, "success");
};
