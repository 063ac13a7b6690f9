import type { API } from "@discordjs/core/http-only";
import { DiscordAPIError } from "@discordjs/rest";
import { InteractionResponseType, InteractionType, MessageFlags, type APIInteraction, type APIInteractionResponse } from "discord-api-types/v10";
import type { App as CoreApp } from "../../core/app.js";
import type { ChatAdapter, Inbound, Reply, View } from "../../core/chat/chat.js";
import type { Translator } from "../../core/chat/i18n.js";
import type { Logger } from "../../core/ports.js";
import { errorView, message, replyWithin } from "../../core/chat/replies.js";
import { DiscordCode } from "./errors.js";
import { parseInteraction } from "./parse.js";
import { renderMessage, renderModal } from "./render.js";
import { DISCORD_TEXT } from "./strings.js";

/**
 * What testum answers to an interaction, whichever way it arrived (the HTTP
 * endpoint or the Gateway): the first answer comes from core's reply within
 * Discord's 3 s; a reply that misses it replaces the deferred "thinking…"
 * answer through the interaction token afterwards.
 */
export interface InteractionDeps {
  readonly applicationId: string;
  readonly api: API;
  readonly core: CoreApp;
  readonly chat: ChatAdapter;
  readonly log: Logger;
}

/**
 * Answers one interaction. `answered` resolves once Discord has the first
 * answer (the HTTP response sent, or the callback POSTed): follow-ups and
 * late replies wait for it.
 */
export type InteractionHandler = (payload: APIInteraction, answered: Promise<void>) => Promise<APIInteractionResponse>;

/** Discord wants the first answer within 3 s; 2 s leaves room for the network. */
const ACK_WITHIN_MS = 2000;
/** The interaction token works for 15 minutes (interactions/receiving-and-responding.mdx). */
const TOKEN_LIFETIME_MS = 15 * 60_000;

export const ephemeral = (view: View): APIInteractionResponse => ({
  type: InteractionResponseType.ChannelMessageWithSource,
  data: { ...renderMessage(view), flags: MessageFlags.Ephemeral },
});

/** A short note in the user's language. */
const note = (t: Translator, text: string, tone: View["tone"] = "neutral"): View => ({ ...message(text, undefined, tone), lang: t.lang });

/** The first answer to a command, a click or a form, from core's reply. */
function answerFor(reply: Reply, event: Inbound, hasMessage: boolean, t: Translator): APIInteractionResponse {
  switch (reply.kind) {
    case "form":
      // A modal cannot open another modal.
      if (event.kind === "form") return ephemeral(note(t, DISCORD_TEXT.say(t, "adapter.discord.form_from_form"), "warning"));
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

export function createInteractionHandler(deps: InteractionDeps): InteractionHandler {
  const { api, core, chat, log, applicationId } = deps;

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
            ? note(t, DISCORD_TEXT.say(t, "adapter.discord.form_too_late"), "warning")
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
        const { actor, complete, prefix, options } = parsed;
        const timeout = new Promise<string[]>((r) => setTimeout(() => r([]), ACK_WITHIN_MS).unref());
        const names = complete ? await Promise.race([core.complete(actor, complete, prefix, options), timeout]) : [];
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

  return async (payload, answered) => {
    try {
      return await answer(payload, answered);
    } catch (err) {
      const t = core.translator("locale" in payload ? payload.locale : undefined);
      return ephemeral({ ...errorView(err, log, t), lang: t.lang });
    }
  };
}
