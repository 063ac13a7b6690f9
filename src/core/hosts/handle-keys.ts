import { findIdentity } from "./identity.js";
import { say, type Translator } from "../chat/i18n.js";
import { listing, privateReply, privateText } from "../chat/replies.js";
import { addKey, deployKeys, keyStatus, listKeys, removeKey, revokeKey, type HostOutcome } from "./team-keys.js";
import type { Handler } from "../commands/handler-context.js";

function outcomeLines(outcomes: readonly HostOutcome[], t: Translator): string[] {
  const width = Math.max(...outcomes.map((o) => o.host.length), 4);
  return [...outcomes].sort((a, b) => Number(a.ok) - Number(b.ok)).map((o) => `${o.ok ? "✓" : "✗"} ${o.host.padEnd(width)}  ${o.message ? say(t, o.message) : o.summary}`);
}

export const identity: Handler<"identity"> = async (ctx) => {
  const key = await findIdentity(ctx.sql, "active");
  if (!key) return privateText(ctx.t("identity.missing"), "warning");
  return privateReply(listing(ctx.t("identity.title", { fingerprint: key.fingerprint }), [key.publicKey], ctx.t("identity.footer")));
};

export const keysList: Handler<"keys.list"> = async (ctx) => {
  const keys = await listKeys(ctx.sql);
  if (keys.length === 0) return privateText(ctx.t("keys.none"));
  return privateReply(
    listing(
      ctx.t("keys.list.title", { count: keys.length }),
      keys.map((k) => `${k.name.padEnd(16)} ${k.type.padEnd(20)} ${k.fingerprint}  ${k.comment}`),
    ),
  );
};

export const keysAdd: Handler<"keys.add"> = async (ctx, event, cmd) => {
  const key = await addKey(ctx.sql, event.actor.id, cmd.key, cmd.line);
  await ctx.audit("keys.add", "added", key.name, { type: key.type, fingerprint: key.fingerprint });
  return privateText(ctx.t("keys.added", { name: key.name, type: key.type, fingerprint: key.fingerprint }), "success");
};

export const keysRm: Handler<"keys.rm"> = async (ctx, _event, cmd) => {
  const key = await removeKey(ctx.sql, cmd.key);
  await ctx.audit("keys.remove", "removed", key.name, { fingerprint: key.fingerprint });
  return privateText(ctx.t("keys.removed", { name: key.name }), "success");
};

export const keysDeploy: Handler<"keys.deploy"> = async (ctx, event, cmd, scope) => {
  const outcomes = await deployKeys(ctx, event.actor.id, cmd.key, { text: cmd.target, hosts: scope.hosts }, event.conversation);
  const title = cmd.key === "all" ? ctx.t("keys.deployed_all", { count: outcomes.length }) : ctx.t("keys.deployed", { name: cmd.key, count: outcomes.length });
  return privateReply(listing(title, outcomeLines(outcomes, ctx.t)));
};

export const keysRevoke: Handler<"keys.revoke"> = async (ctx, event, cmd, scope) => {
  const outcomes = await revokeKey(ctx, event.actor.id, cmd.key, { text: cmd.target, hosts: scope.hosts }, event.conversation);
  return privateReply(listing(ctx.t("keys.revoked", { name: cmd.key, count: outcomes.length }), outcomeLines(outcomes, ctx.t)));
};

export const keysStatus: Handler<"keys.status"> = async (ctx, _event, _cmd, scope) => {
  const outcomes = await keyStatus(ctx, scope.hosts);
  return privateReply(listing(ctx.t("keys.status.title", { count: outcomes.length }), outcomeLines(outcomes, ctx.t)));
};
