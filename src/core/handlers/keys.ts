import { findIdentity } from "../identity.js";
import { listing, privateReply, privateText } from "../replies.js";
import { addKey, deployKeys, keyStatus, listKeys, removeKey, revokeKey, type HostOutcome } from "../team-keys.js";
import type { Handler } from "./context.js";

function outcomeLines(outcomes: readonly HostOutcome[]): string[] {
  const width = Math.max(...outcomes.map((o) => o.host.length), 4);
  return [...outcomes].sort((a, b) => Number(a.ok) - Number(b.ok)).map((o) => `${o.ok ? "✓" : "✗"} ${o.host.padEnd(width)}  ${o.summary}`);
}

export const identity: Handler<"identity"> = async (ctx) => {
  const key = await findIdentity(ctx.sql, "active");
  if (!key) return privateText("testum has no identity key yet; it is made when testum starts.", "warning");
  return privateReply(listing(`testum's public key (${key.fingerprint})`, [key.publicKey], "Add this line to ~/.ssh/authorized_keys of the login user on hosts added with /testum hosts add."));
};

export const keysList: Handler<"keys.list"> = async (ctx) => {
  const keys = await listKeys(ctx.sql);
  if (keys.length === 0) return privateText("No team keys yet. Add one with /testum keys add NAME 'ssh-ed25519 AAAA… comment'.");
  return privateReply(listing(`${keys.length} key${keys.length === 1 ? "" : "s"}`, keys.map((k) => `${k.name.padEnd(16)} ${k.type.padEnd(20)} ${k.fingerprint}  ${k.comment}`)));
};

export const keysAdd: Handler<"keys.add"> = async (ctx, event, cmd) => {
  const key = await addKey(ctx.sql, event.actor.id, cmd.key, cmd.line);
  await ctx.audit("keys.add", "added", key.name, { type: key.type, fingerprint: key.fingerprint });
  return privateText(`Added key ${key.name}: ${key.type} ${key.fingerprint}. Deploy it with /testum keys deploy ${key.name} TARGET.`, "success");
};

export const keysRm: Handler<"keys.rm"> = async (ctx, _event, cmd) => {
  const key = await removeKey(ctx.sql, cmd.key);
  await ctx.audit("keys.remove", "removed", key.name, { fingerprint: key.fingerprint });
  return privateText(`Removed key ${key.name}.`, "success");
};

export const keysDeploy: Handler<"keys.deploy"> = async (ctx, event, cmd) => {
  const outcomes = await deployKeys(ctx, event.actor.id, cmd.key, cmd.target, event.conversation);
  return privateReply(listing(`Deployed ${cmd.key === "all" ? "all keys" : cmd.key} to ${outcomes.length} host${outcomes.length === 1 ? "" : "s"}`, outcomeLines(outcomes)));
};

export const keysRevoke: Handler<"keys.revoke"> = async (ctx, event, cmd) => {
  const outcomes = await revokeKey(ctx, event.actor.id, cmd.key, cmd.target, event.conversation);
  return privateReply(listing(`Revoked ${cmd.key} on ${outcomes.length} host${outcomes.length === 1 ? "" : "s"}`, outcomeLines(outcomes)));
};

export const keysStatus: Handler<"keys.status"> = async (ctx, _event, cmd) => {
  const outcomes = await keyStatus(ctx, cmd.target);
  return privateReply(listing(`Keys on ${outcomes.length} host${outcomes.length === 1 ? "" : "s"}`, outcomeLines(outcomes)));
};
