import { BUILTIN_DETECTORS } from "./redact.js";
import { addRedactionPattern, listRedactionPatterns, removeRedactionPattern } from "./redaction-patterns.js";
import { listing, privateReply, privateText } from "../chat/replies.js";
import type { Handler } from "../commands/handler-context.js";

/** `/testum redact list|add|rm`: what command output hides besides the built-ins (admins). */

export const redactList: Handler<"redact.list"> = async (ctx) => {
  const { t } = ctx;
  const patterns = await listRedactionPatterns(ctx.sql);
  const lines = [
    t("redact.list.builtins", { names: BUILTIN_DETECTORS.map((d) => d.name).join(", ") }),
    ...(patterns.length === 0 ? [t("redact.list.none")] : patterns.map((p) => `${p.name.padEnd(20)} ${p.pattern}  (${p.createdBy})`)),
  ];
  return privateReply(listing(t("redact.list.title"), lines, t("redact.list.footer")));
};

export const redactAdd: Handler<"redact.add"> = async (ctx, event, cmd) => {
  const added = await addRedactionPattern(ctx.sql, event.actor.id, cmd.redaction, cmd.pattern);
  await ctx.audit("redaction.add", "added", added.name, { pattern: added.pattern });
  return privateText(ctx.t("redact.added", { name: added.name, pattern: added.pattern }), "success");
};

export const redactRm: Handler<"redact.rm"> = async (ctx, _event, cmd) => {
  const removed = await removeRedactionPattern(ctx.sql, cmd.redaction);
  await ctx.audit("redaction.remove", "removed", removed.name, { pattern: removed.pattern });
  return privateText(ctx.t("redact.removed", { name: removed.name, pattern: removed.pattern }), "success");
};
