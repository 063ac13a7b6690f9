import type { Role } from "../access/access.js";
import { isTestumError } from "../errors.js";
import { listHosts, type Host } from "../hosts/hosts.js";
import { msg, say, type Translator } from "../chat/i18n.js";
import { listing, privateReply, privateText } from "../chat/replies.js";
import { expectation, parseTemplate, typeText } from "./runbook-template.js";
import { listRunbooks, removeRunbook, runbookCommand, runbookVisible, saveRunbook, type Runbook, type RunbookApproval } from "./runbooks.js";
import { formatDuration } from "../duration.js";
import type { Handler } from "../commands/handler-context.js";
import { submit } from "../jobs/handle-run.js";
import { formatTime } from "../chat/time.js";

/** Runbooks in chat: add, list, show, remove, and `rb NAME key=value …` to run one. */

export const runbookAdd: Handler<"runbook.add"> = async (ctx, event, cmd) => {
  const { runbook, outcome } = await saveRunbook(
    ctx.sql,
    event.actor.id,
    {
      name: cmd.runbook,
      target: cmd.target,
      command: cmd.command,
      description: cmd.description,
      approval: cmd.approval as RunbookApproval | undefined,
      role: cmd.role as Role | undefined,
      timeoutMs: cmd.timeoutMs,
    },
    cmd.replace === true,
  );
  await ctx.audit("runbook.add", outcome, runbook.target, auditDetail(runbook));
  const key = outcome === "added" ? "runbook.added" : outcome === "updated" ? "runbook.updated" : "runbook.unchanged";
  return privateText(ctx.t(key, { name: runbook.name, usage: usageLine(runbook) }), "success");
};

export const runbookList: Handler<"runbook.list"> = async (ctx) => {
  const { t } = ctx;
  const principal = await ctx.principal();
  const hosts = await listHosts(ctx.sql);
  const runbooks = (await listRunbooks(ctx.sql)).filter((r) => runbookVisible(principal, hosts, r));
  if (runbooks.length === 0) return privateText(t("runbook.none"));
  const lines = runbooks.map((r) => `${r.name.padEnd(20)} ${r.target.padEnd(16)} ${r.role.padEnd(9)} ${r.description || "—"}`);
  return privateReply(listing(t("runbook.list.title", { count: runbooks.length }), lines, t("runbook.list.hint")));
};

export const runbookShow: Handler<"runbook.show"> = async (ctx, _event, _cmd, scope) => {
  const r = scope.runbook!;
  return privateReply(listing(ctx.t("runbook.show.title", { name: r.name }), describeRunbook(r, scope.hosts, ctx.t)));
};

export const runbookRm: Handler<"runbook.rm"> = async (ctx, _event, cmd) => {
  const runbook = await removeRunbook(ctx.sql, cmd.runbook);
  await ctx.audit("runbook.remove", "removed", runbook.target, auditDetail(runbook));
  return privateText(ctx.t("runbook.removed", { name: runbook.name }), "success");
};

/** Runs a runbook: its parameters checked and quoted, then the same submission as `run`, on the hosts authorised for it. */
export const rb: Handler<"rb"> = async (ctx, event, cmd, scope) => {
  const runbook = scope.runbook!;
  let command: string;
  try {
    command = runbookCommand(runbook, cmd.params);
  } catch (err) {
    if (isTestumError(err)) await ctx.audit("job.request", "invalid", runbook.target, { runbook: runbook.name, reason: err.message });
    throw err;
  }
  const { params, runbook: _name, name: _cmd, ...flags } = cmd;
  return submit(
    ctx,
    event,
    {
      ...flags,
      timeoutMs: cmd.timeoutMs ?? runbook.timeoutMs ?? undefined,
      kind: "command",
      target: runbook.target,
      command,
      runbook: { name: runbook.name, params, approval: runbook.approval },
    },
    scope.hosts,
  );
};

function auditDetail(r: Runbook): Record<string, unknown> {
  return { runbook: r.name, command: r.command, approval: r.approval, role: r.role, description: r.description, timeoutMs: r.timeoutMs };
}

/** `/testum rb NAME key=… key=…`, as help and replies write it. */
export function usageLine(r: Pick<Runbook, "name" | "command">): string {
  const params = parseTemplate(r.command).params;
  return ["/testum rb", r.name, ...params.map((p) => `${p.name}=${p.type.kind === "enum" ? p.type.values[0] : p.type.kind === "int" ? String(p.type.min ?? 1) : "…"}`)].join(" ");
}

function describeRunbook(r: Runbook, hosts: readonly Host[], t: Translator): string[] {
  const template = parseTemplate(r.command);
  const lines = [
    t("runbook.show.description", { value: r.description || "—" }),
    t("runbook.show.target", { target: r.target, count: hosts.length }),
    t("runbook.show.command", { value: r.command }),
    t("runbook.show.role", { role: r.role }),
    t("runbook.show.approval", { approval: msg(`runbook.approval.${r.approval}`) }),
  ];
  if (r.timeoutMs !== null) lines.push(t("runbook.show.timeout", { value: formatDuration(r.timeoutMs, t.lang) }));
  lines.push(t(template.params.length ? "runbook.show.params" : "runbook.show.no_params"));
  for (const p of template.params) lines.push(`  ${p.name}: ${typeText(p.type)} — ${say(t, expectation(p.type))}`);
  lines.push(t("runbook.show.usage", { usage: usageLine(r) }));
  lines.push(t("runbook.show.changed", { by: r.updatedBy, at: formatTime(r.updatedAt) }));
  return lines;
}
