import { truncate } from "../jobs/tail.js";
import { can } from "../access/access.js";
import { encodeAction } from "../commands/actions.js";
import type { Block, Reply } from "../chat/chat.js";
import { TestumError } from "../errors.js";
import { describeHost, describeProbe, inspectHostKey, parseAddress, parseTags, removeTags, repinHost, setCredential, setTags } from "./host-admin.js";
import { addHost, bastionNames, FINGERPRINT, getHost, getHostById, listHosts, removeHost, setVia } from "./hosts.js";
import { findIdentity } from "./identity.js";
import { msg } from "../chat/i18n.js";
import { listing, privateReply, privateText } from "../chat/replies.js";
import type { Credential } from "./secrets.js";
import type { Handler, HandlerContext } from "../commands/handler-context.js";
import { formatTimeAgo } from "../chat/time.js";

export const hostsList: Handler<"hosts.list"> = async (ctx) => {
  const { t } = ctx;
  const principal = await ctx.principal();
  const all = await listHosts(ctx.sql);
  const viaOf = bastionNames(all);
  const hosts = all.filter((h) => can(principal, "view", h));
  if (hosts.length === 0) return privateText(t("hosts.none"));
  const lines = hosts.map((h) => {
    const via = viaOf(h);
    const tags = Object.entries(h.tags)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    const key = t(h.hostKeyFingerprint ? "hosts.list.key_pinned" : "hosts.list.key_not_pinned");
    const seen = h.lastSeenAt ? t("hosts.list.seen", { at: formatTimeAgo(h.lastSeenAt, t) }) : t("hosts.list.never_seen");
    // One host in two short lines: name, address and key; then when it was seen, its route and tags.
    return [`${h.name}  ${h.username}@${h.address}:${h.port} · ${key}`, `    ${[seen, ...(via ? [t("hosts.list.via", { via })] : []), ...(tags ? [tags] : [])].join(" · ")}`];
  });
  return privateReply(listing(t("hosts.list.title", { count: hosts.length }), lines.flat(), undefined, { wrap: true }));
};

export const hostsShow: Handler<"hosts.show"> = async (ctx, _event, cmd) => {
  const host = await getHost(ctx.sql, cmd.host);
  const via = host.viaHostId === null ? null : ((await getHostById(ctx.sql, host.viaHostId))?.name ?? null);
  return privateReply(listing(ctx.t("hosts.show.title", { name: cmd.host }), describeHost(host, ctx.t, via), undefined, { wrap: true }));
};

export const hostsAdd: Handler<"hosts.add"> = async (ctx, event, cmd) => {
  const address = parseAddress(cmd.address);
  const tags = parseTags(cmd.tags);
  const host = await addHost(ctx.sql, ctx.box, { name: cmd.host, ...address, tags, via: cmd.via, createdBy: event.actor.id });
  await ctx.audit("host.add", "added", host.name, { address: host.address, port: host.port, user: host.username, auth: "identity", tags, via: cmd.via ?? null });
  const identity = await findIdentity(ctx.sql, "active");
  const next = ctx.t("hosts.added_next", { user: host.username, name: host.name });
  return privateReply(
    listing(
      ctx.t("hosts.added", { name: host.name, address: `${host.username}@${host.address}:${host.port}` }),
      identity ? [identity.publicKey] : [],
      cmd.via ? `${ctx.t("hosts.added_via", { name: host.name, via: cmd.via, address: `${host.address}:${host.port}` })}\n${next}` : next,
    ),
  );
};

export const hostsRm: Handler<"hosts.rm"> = async (ctx, _event, cmd) => {
  const host = await removeHost(ctx.sql, cmd.host);
  await ctx.audit("host.remove", "removed", host.name);
  return privateText(ctx.t("hosts.removed", { name: host.name }), "success");
};

export const hostsVia: Handler<"hosts.via"> = async (ctx, _event, cmd) => {
  const { host, old } = await setVia(ctx.sql, cmd.host, cmd.bastion);
  await ctx.audit("host.via", cmd.bastion ? "routed" : "direct", host.name, { old, via: cmd.bastion ?? null });
  const was = old ?? ctx.t("hosts.show.direct");
  if (!cmd.bastion) return privateText(ctx.t("hosts.via.direct", { name: host.name, old: was }), "success");
  return privateText(ctx.t("hosts.via.set", { name: host.name, via: cmd.bastion, old: was }), "success");
};

export const hostsTag: Handler<"hosts.tag"> = async (ctx, event, cmd) => {
  const host = await setTags(ctx.sql, event.actor.id, cmd.host, parseTags(cmd.tags), event.conversation);
  return privateText(
    ctx.t("hosts.tags", {
      name: host.name,
      tags:
        Object.entries(host.tags)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ") || msg("word.none"),
    }),
    "success",
  );
};

export const hostsUntag: Handler<"hosts.untag"> = async (ctx, event, cmd) => {
  const host = await removeTags(ctx.sql, event.actor.id, cmd.host, cmd.keys, event.conversation);
  return privateText(
    ctx.t("hosts.tags", {
      name: host.name,
      tags:
        Object.entries(host.tags)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ") || msg("word.none"),
    }),
    "success",
  );
};

export const hostsTest: Handler<"hosts.test"> = async (ctx, _event, cmd) => {
  const host = await getHost(ctx.sql, cmd.host);
  const probe = await ctx.remote.probe(host);
  await ctx.audit("host.test", probe.authenticated ? "succeeded" : "failed", host.name, { fingerprint: probe.fingerprint ?? null, error: probe.errorCode ?? null });
  return privateReply(
    listing(ctx.t(probe.authenticated ? "hosts.test.works" : "hosts.test.not_yet", { name: host.name }), describeProbe(host, probe, ctx.t), undefined, { wrap: true }),
  );
};

/**
 * Without a fingerprint: shows the key the host presents next to the pinned
 * one and asks for a confirmation (a button, or the command again with the
 * fingerprint). With one: pins that key if it is the one presented.
 */
export const hostsRepin: Handler<"hosts.repin"> = async (ctx, event, cmd, scope) => {
  const { t } = ctx;
  const host = scope.hosts[0]!;
  if (cmd.fingerprint !== undefined) {
    if (!FINGERPRINT.test(cmd.fingerprint) && !(event.kind === "action" && /^SHA256:[A-Za-z0-9+/]{20,43}$/.test(cmd.fingerprint))) {
      throw new TestumError("invalid_input", msg("hosts.repin.bad_fingerprint", { fingerprint: cmd.fingerprint, name: host.name }));
    }
    const result = await repinHost(ctx.sql, ctx.remote, event.actor.id, host.name, cmd.fingerprint, event.conversation);
    if (result.old === result.new) return privateText(t("hosts.repin.unchanged", { name: host.name, fingerprint: result.new }));
    const view = listing(
      t("hosts.repin.title", { name: host.name }),
      [t("hosts.repin.old", { fingerprint: result.old ?? msg("word.none") }), t("hosts.repin.new", { fingerprint: result.new })],
      t("hosts.repin.footer"),
    );
    return privateReply(view);
  }
  const { old, presented } = await inspectHostKey(ctx.sql, ctx.remote, host.name);
  if (old === presented) return privateText(t("hosts.repin.unchanged", { name: host.name, fingerprint: presented }));
  await ctx.audit("host_key.repin", "presented", host.name, { old, presented });
  const view = listing(
    t("hosts.repin.confirm_title", { name: host.name }),
    [t("hosts.repin.old", { fingerprint: old ?? msg("word.none") }), t("hosts.repin.presented", { fingerprint: presented })],
    t("hosts.repin.confirm_footer", { name: host.name, fingerprint: presented }),
  );
  const confirm: Block = {
    type: "actions",
    buttons: [{ label: t("button.pin_key"), action: encodeAction({ kind: "repin", host: host.name, fingerprint: presented.slice(0, 27) }), style: "danger" }],
  };
  return privateReply({ ...view, tone: "warning", blocks: [...view.blocks, confirm] });
};

export const hostsSecret: Handler<"hosts.secret"> = async (ctx, _event, cmd) => {
  const host = await getHost(ctx.sql, cmd.host);
  return {
    kind: "form",
    form: {
      action: encodeAction({ kind: "host-secret", host: host.name }),
      title: truncate(ctx.t("hosts.secret.title", { name: host.name }), 45),
      submitLabel: ctx.t("hosts.secret.submit"),
      fields: [
        { id: "password", label: ctx.t("hosts.secret.password"), required: false, maxLength: 1000 },
        { id: "private_key", label: ctx.t("hosts.secret.private_key"), multiline: true, required: false, maxLength: 4000 },
        { id: "passphrase", label: ctx.t("hosts.secret.passphrase"), required: false, maxLength: 1000 },
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
  // A password is taken exactly as typed: leading and trailing spaces can be part of it.
  const password = values.password ?? "";
  const privateKey = values.private_key?.trim() ?? "";
  if ((password === "") === (privateKey === "")) {
    throw new TestumError("invalid_input", msg("hosts.secret.one_of"));
  }
  let credential: Credential;
  if (privateKey) {
    const passphrase = values.passphrase || undefined;
    try {
      checkKey(privateKey + "\n", passphrase);
    } catch {
      throw new TestumError("invalid_input", msg("hosts.secret.unreadable"));
    }
    credential = { type: "key", privateKey: privateKey + "\n", passphrase };
  } else {
    credential = { type: "password", password };
  }
  await setCredential(ctx.sql, ctx.box, actor, host, credential, channel);
  return privateText(ctx.t(credential.type === "key" ? "hosts.secret.stored_key" : "hosts.secret.stored_password", { name: host }), "success");
}
