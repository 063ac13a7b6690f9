import type { IncomingMessage, ServerResponse } from "node:http";
import type { API } from "@discordjs/core/http-only";
import { DiscordAPIError } from "@discordjs/rest";
import { InteractionResponseType, InteractionType, MessageFlags, type APIInteraction, type APIInteractionResponse } from "discord-api-types/v10";
import type { App as CoreApp } from "../../core/app.js";
import type { ChatAdapter, Inbound, Reply, View } from "../../core/chat.js";
import type { Translator } from "../../core/i18n.js";
import type { Logger } from "../../core/ports.js";
import { errorView, message, replyWithin } from "../../core/replies.js";
import { DiscordCode } from "./errors.js";
import { parseInteraction } from "./parse.js";
import { renderMessage, renderModal } from "./render.js";
import { readBody } from "../http/body.js";
import { checkInteraction } from "./inbound.js";
import { createDiscordVerifier } from "./verify.js";

export interface DiscordReceiverDeps {
  /** The application's public key, 64 hex characters (DISCORD_PUBLIC_KEY). */
  readonly publicKey: string;
  readonly applicationId: string;
  readonly api: API;
  readonly core: CoreApp;
  readonly chat: ChatAdapter;
  readonly log: Logger;
}

/** Discord wants the first answer within 3 s; 2 s leaves room for the network. */
const ACK_WITHIN_MS = 2000;
/** The interaction token works for 15 minutes (interactions/receiving-and-responding.mdx). */
const TOKEN_LIFETIME_MS = 15 * 60_000;
/** Interaction payloads are small; anything this big is not from Discord. */
const MAX_BODY_BYTES = 1024 * 1024;

const ephemeral = (view: View): APIInteractionResponse => ({
  type: InteractionResponseType.ChannelMessageWithSource,
  data: { ...renderMessage(view), flags: MessageFlags.Ephemeral },
});

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value : undefined;
}


function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}

/** A short note in the user's language. */
const note = (t: Translator, text: string, tone: View["tone"] = "neutral"): View => ({ ...message(text, undefined, tone), lang: t.lang });

/** The first answer to a command, a click or a form, from core's reply. */
function answerFor(reply: Reply, event: Inbound, hasMessage: boolean, t: Translator): APIInteractionResponse {
  switch (reply.kind) {
    case "form":
      // A modal cannot open another modal.
      if (event.kind === "form") return ephemeral(note(t, t("adapter.discord.form_from_form"), "warning"));
      return { type: InteractionResponseType.Modal, data: renderModal(reply.form) };
    case "update":
      if (event.kind !== "command" && hasMessage) return { type: InteractionResponseType.UpdateMessage, data: renderMessage(reply.view) };
      return ephemeral(reply.view);
    case "private":
      return ephemeral(reply.view);
    case "none":
      if (event.kind !== "command" && hasMessage) return { type: InteractionResponseType.DeferredMessageUpdate };
      return ephemeral(note(t, t("reply.done")));
  }
}

/**
 * The HTTP endpoint Discord posts interactions to (`/discord/interactions`):
 * signature check, PING, commands, autocomplete, button clicks and modal
 * submissions. Every answer is the HTTP response itself; the interaction
 * token is used afterwards only to deliver a reply that missed the 3 s, by
 * editing the deferred private answer.
 */
export function createDiscordReceiver(deps: DiscordReceiverDeps): {
  listener: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
} {
  const { api, core, chat, log, applicationId } = deps;
  const verify = createDiscordVerifier(deps.publicKey);

  /** Replaces the deferred "thinking…" answer with the late reply. */
  async function deliverLate(reply: Reply, event: Inbound, token: string, answered: Promise<void>, t: Translator): Promise<void> {
    await answered;
    if (reply.kind === "update" && event.kind === "action") {
      // The clicked message changes through the bot token; the private answer says the same.
      await chat.edit(event.message, reply.view).catch((err: unknown) => log.warn({ err, event: event.eventId }, "could not update the clicked message"));
    }
    try {
      const view =
        reply.kind === "private" || reply.kind === "update"
          ? reply.view
          : reply.kind === "form"
            ? note(t, t("adapter.discord.form_too_late"), "warning")
            : note(t, t("reply.done"));
      const body = renderMessage(view);
      try {
        await api.interactions.editReply(applicationId, token, body);
      } catch (err) {
        // Discord may not have processed the deferral yet (10015): once more, a moment later.
        if (!(err instanceof DiscordAPIError && err.code === DiscordCode.unknownWebhook)) throw err;
        await new Promise((r) => setTimeout(r, 1000));
        await api.interactions.editReply(applicationId, token, body);
      }
    } catch (err) {
      log.warn({ err, event: event.eventId }, "could not deliver a late reply to Discord");
    }
  }

  async function answer(payload: APIInteraction, answered: Promise<void>): Promise<APIInteractionResponse> {
    const receivedAt = Date.now();
    const respond = async (view: View) => {
      if (Date.now() - receivedAt > TOKEN_LIFETIME_MS - 60_000) {
        log.warn({ event: payload.id }, "interaction token about to expire; a private message was dropped");
        return;
      }
      await answered;
      await api.interactions.followUp(applicationId, payload.token, { ...renderMessage(view), flags: MessageFlags.Ephemeral });
    };
    const parsed = parseInteraction(payload, respond);
    const t = core.translator("locale" in payload ? payload.locale : undefined);
    switch (parsed.kind) {
      case "ping":
        return { type: InteractionResponseType.Pong };
      case "refused":
        if (payload.type === InteractionType.ApplicationCommandAutocomplete) return { type: InteractionResponseType.ApplicationCommandAutocompleteResult, data: { choices: [] } };
        return ephemeral(note(t, t("error.known", { reason: parsed.reason }), "warning"));
      case "complete": {
        const { actor, complete, prefix } = parsed;
        const timeout = new Promise<string[]>((r) => setTimeout(() => r([]), ACK_WITHIN_MS).unref());
        const names = complete ? await Promise.race([core.complete(actor, complete, prefix), timeout]) : [];
        // At most 25 choices (interactions/application-commands.mdx).
        return {
          type: InteractionResponseType.ApplicationCommandAutocompleteResult,
          data: { choices: names.slice(0, 25).map((n) => ({ name: n, value: n })) },
        };
      }
      case "inbound": {
        const { event, hasMessage } = parsed;
        const reply = await replyWithin(core.handle(event), ACK_WITHIN_MS, (late) => void deliverLate(late, event, payload.token, answered, t));
        if (reply) return answerFor(reply, event, hasMessage, t);
        return { type: InteractionResponseType.DeferredChannelMessageWithSource, data: { flags: MessageFlags.Ephemeral } };
      }
    }
  }

  async function listener(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") return sendText(res, 405, "Method not allowed\n");
    const body = await readBody(req, MAX_BODY_BYTES);
    if (!body) return sendText(res, 413, "Request too large\n");
    // Discord probes with bad signatures and drops endpoints that accept them.
    if (!verify(header(req, "x-signature-ed25519"), header(req, "x-signature-timestamp"), body)) {
      return sendText(res, 401, "invalid request signature\n");
    }
    let payload: APIInteraction;
    try {
      payload = JSON.parse(body.toString("utf8")) as APIInteraction;
    } catch {
      return sendText(res, 400, "Malformed JSON\n");
    }
    const problem = checkInteraction(payload);
    if (problem) return sendText(res, 400, `Malformed interaction: ${problem}\n`);
    let markAnswered = () => {};
    const answered = new Promise<void>((r) => (markAnswered = r));
    res.once("finish", markAnswered);
    res.once("close", markAnswered);
    let response: APIInteractionResponse;
    try {
      response = await answer(payload, answered);
    } catch (err) {
      const t = core.translator("locale" in payload ? payload.locale : undefined);
      response = ephemeral({ ...errorView(err, log, t), lang: t.lang });
    }
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(response));
  }

  return { listener };
}
