import { can } from "../access.js";
import { encodeAction } from "../actions.js";
import type { Reply } from "../chat.js";
import { TestumError } from "../errors.js";
import { describeHost, describeProbe, parseAddress, parseTags, removeTags, repinHost, setCredential, setTags } from "../host-admin.js";
import { addHost, getHost, listHosts, removeHost } from "../hosts.js";
import { findIdentity } from "../identity.js";
import { listing, privateReply, privateText } from "../replies.js";
import type { Credential } from "../secrets.js";
import type { Handler, HandlerContext } from "./context.js";

export const hostsList: Handler<"hosts.list"> = async (ctx) => {
  const principal = await ctx.principal();
  const hosts = (await listHosts(ctx.sql)).filter((h) => can(principal, "view", h));
  if (hosts.length === 0) {
    return privateText("No hosts yet. Add one with /testum hosts add NAME USER@HOST, or npx testum hosts add --help on the server.");
  }
  const lines = hosts.map((h) => {
    const tags = Object.entries(h.tags).map(([k, v]) => `${k}=${v}`).join(",");
    const key = h.hostKeyFingerprint ? "key pinned" : "key not pinned yet";
    const seen = h.lastSeenAt ? `seen ${h.lastSeenAt.toISOString().slice(0, 16).replace("T", " ")}` : "never seen";
    return `${h.name.padEnd(20)} ${`${h.username}@${h.address}:${h.port}`.padEnd(32)} ${key.padEnd(18)} ${seen}${tags ? `  ${tags}` : ""}`;
  });
  return privateReply(listing(`${hosts.length} host${hosts.length === 1 ? "" : "s"}`, lines));
};

export const hostsShow: Handler<"hosts.show"> = async (ctx, _event, cmd) =>
  privateReply(listing(`Host ${cmd.host}`, describeHost(await getHost(ctx.sql, cmd.host))));

export const hostsAdd: Handler<"hosts.add"> = async (ctx, event, cmd) => {
  const address = parseAddress(cmd.address);
  const tags = parseTags(cmd.tags);
  const host = await addHost(ctx.sql, ctx.box, { name: cmd.host, ...address, tags, createdBy: event.actor.id });
  await ctx.audit("host.add", "added", host.name, { address: host.address, port: host.port, user: host.username, auth: "identity", tags });
  const identity = await findIdentity(ctx.sql, "active");
  return privateReply(
    listing(
      `Added ${host.name} (${host.username}@${host.address}:${host.port}). It will authenticate with testum's identity key.`,
      identity ? [identity.publicKey] : [],
      `Put this line in ~${host.username}/.ssh/authorized_keys on the host, then try /testum hosts test ${host.name}. Its host key is pinned on first contact.`,
    ),
  );
};

export const hostsRm: Handler<"hosts.rm"> = async (ctx, _event, cmd) => {
  const host = await removeHost(ctx.sql, cmd.host);
  await ctx.audit("host.remove", "removed", host.name);
  return privateText(`Removed ${host.name} and its stored credential.`, "success");
};

export const hostsTag: Handler<"hosts.tag"> = async (ctx, event, cmd) => {
  const host = await setTags(ctx.sql, event.actor.id, cmd.host, parseTags(cmd.tags), event.conversation);
  return privateText(`${host.name} tags: ${Object.entries(host.tags).map(([k, v]) => `${k}=${v}`).join(", ") || "none"}`, "success");
};

export const hostsUntag: Handler<"hosts.untag"> = async (ctx, event, cmd) => {
  const host = await removeTags(ctx.sql, event.actor.id, cmd.host, cmd.keys, event.conversation);
  return privateText(`${host.name} tags: ${Object.entries(host.tags).map(([k, v]) => `${k}=${v}`).join(", ") || "none"}`, "success");
};

export const hostsTest: Handler<"hosts.test"> = async (ctx, _event, cmd) => {
  const host = await getHost(ctx.sql, cmd.host);
  const probe = await ctx.remote.probe(host);
  await ctx.audit("host.test", probe.authenticated ? "succeeded" : "failed", host.name, { fingerprint: probe.fingerprint ?? null, error: probe.errorCode ?? null });
  return privateReply(listing(probe.authenticated ? `✅ ${host.name} works` : `⚠️ ${host.name} does not work yet`, describeProbe(host, probe)));
};

export const hostsRepin: Handler<"hosts.repin"> = async (ctx, event, cmd) => {
  const result = await repinHost(ctx.sql, ctx.remote, event.actor.id, cmd.host, event.conversation);
  if (result.old === result.new) return privateText(`${cmd.host}'s host key is unchanged: ${result.new}`);
  return privateReply(
    listing(`Re-pinned the host key of ${cmd.host}`, [`old: ${result.old ?? "none"}`, `new: ${result.new}`], "testum now accepts the new key and refuses the old one."),
  );
};

export const hostsSecret: Handler<"hosts.secret"> = async (ctx, _event, cmd) => {
  const host = await getHost(ctx.sql, cmd.host);
  return {
    kind: "form",
    form: {
      action: encodeAction({ kind: "host-secret", host: host.name }),
      title: `Credential: ${host.name}`.slice(0, 45),
      submitLabel: "Save",
      fields: [
        { id: "password", label: "Password (leave empty when giving a key)", required: false, maxLength: 1000 },
        { id: "private_key", label: "Private key (OpenSSH or PEM)", multiline: true, required: false, maxLength: 4000 },
        { id: "passphrase", label: "Key passphrase, if any", required: false, maxLength: 1000 },
      ],
    },
  };
};

/** The private form's answer: stores the credential, never echoing it. */
export async function submitHostSecret(
  ctx: HandlerContext,
  actor: string,
  channel: string,
  host: string,
  values: Readonly<Record<string, string>>,
  checkKey: (key: string, passphrase?: string) => void,
): Promise<Reply> {
  const password = values.password?.trim() ?? "";
  const privateKey = values.private_key?.trim() ?? "";
  if ((password === "") === (privateKey === "")) {
    throw new TestumError("invalid_input", "fill in either the password or the private key (not both)");
  }
  let credential: Credential;
  if (privateKey) {
    const passphrase = values.passphrase?.trim() || undefined;
    try {
      checkKey(privateKey + "\n", passphrase);
    } catch {
      throw new TestumError("invalid_input", "that private key could not be read (or the passphrase is wrong); nothing was stored");
    }
    credential = { type: "key", privateKey: privateKey + "\n", passphrase };
  } else {
    credential = { type: "password", password };
  }
  await setCredential(ctx.sql, ctx.box, actor, host, credential, channel);
  return privateText(`🔒 Stored a ${credential.type === "key" ? "private key" : "password"} for ${host}, encrypted. testum uses it from the next connection.`, "success");
}
