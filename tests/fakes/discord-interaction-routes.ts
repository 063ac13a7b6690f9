/**
 * Interaction callback and interaction-webhook routes
 * (interactions/receiving-and-responding.mdx):
 * - the initial response must come within 3 s of the interaction, and only once
 *   (10062 Unknown interaction / 40060 already acknowledged);
 * - the token then works for 15 minutes on `/webhooks/{app}/{token}` (then 401 50027);
 * - callback types: 4 message, 5 deferred message, 6 deferred update, 7 update message,
 *   8 autocomplete result, 9 modal; which ones an interaction accepts depends on its type.
 */
import { discordErrors, fieldError } from './discord-errors.js';
import { MessageFlag, parseMessageInput, validateModal } from './discord-limits.js';
import { type RouteDef, noContent, ok, route } from './discord-router.js';
import type { InteractionRecord, MessageRecord } from './discord-state.js';
import type { RouteEnv } from './discord-channel-routes.js';

export const INTERACTION_RESPONSE_DEADLINE_MS = 3_000;
export const INTERACTION_TOKEN_LIFETIME_MS = 15 * 60_000;

/** Interaction type → callback types it accepts (receiving-and-responding.mdx "Interaction Callback Type"). */
const ACCEPTED_CALLBACKS: Record<number, readonly number[]> = {
  2: [4, 5, 9],
  3: [4, 5, 6, 7, 9],
  4: [8],
  5: [4, 5, 6, 7],
};

const RESPONSE_FLAGS = MessageFlag.Ephemeral | MessageFlag.SuppressEmbeds | MessageFlag.SuppressNotifications | MessageFlag.IsComponentsV2;
const EDIT_FLAGS = MessageFlag.SuppressEmbeds | MessageFlag.IsComponentsV2;

type Json = Record<string, unknown>;
const asObject = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});

export function interactionRoutes(env: RouteEnv): RouteDef[] {
  const { state } = env;
  const byToken = (token: string) => {
    for (const rec of state.interactions.values()) if (rec.token === token) return rec;
    return undefined;
  };

  /** The interaction behind a webhook URL, if its token is still valid. */
  const webhookInteraction = (app: string, token: string): InteractionRecord => {
    if (app !== env.applicationId) throw discordErrors.unknownWebhook();
    const rec = byToken(token);
    if (!rec || state.clock.now() - rec.issuedAt > INTERACTION_TOKEN_LIFETIME_MS) throw discordErrors.invalidWebhookToken();
    // Before the initial response there is no webhook message to act on (obs.: 10015 Unknown Webhook).
    if (!rec.callback) throw discordErrors.unknownWebhook();
    return rec;
  };

  const webhookMessage = (rec: InteractionRecord, messageId: string): MessageRecord => {
    const id = messageId === '@original' ? rec.originalMessageId : messageId;
    const owned = id !== null && (id === rec.originalMessageId || rec.followupIds.includes(id));
    const msg = owned ? state.messages.get(id) : undefined;
    if (!msg || msg.deleted) throw discordErrors.unknownMessage();
    return msg;
  };

  const respondMessage = (rec: InteractionRecord, data: unknown, loading: boolean): MessageRecord => {
    const ch = state.channelOr404(rec.channelId);
    const input = loading ? { flags: asObject(data).flags as number | undefined } : parseMessageInput(data, RESPONSE_FLAGS);
    const flags = (input.flags ?? 0) & (loading ? MessageFlag.Ephemeral : RESPONSE_FLAGS);
    return state.createMessage(ch, loading ? { flags } : { ...input, flags }, {
      authorId: state.botUser.id,
      source: 'interaction',
      // Replies to slash commands are CHAT_INPUT_COMMAND (20) messages.
      type: rec.type === 2 ? 20 : 0,
      flags: loading ? MessageFlag.Loading : 0,
      webhookId: env.applicationId,
      interactionId: rec.id,
    });
  };

  return [
    route(
      'POST /interactions/:interaction_id/:interaction_token/callback',
      ({ params, query, body }) => {
        const rec = state.interactions.get(params.interaction_id!);
        if (!rec || rec.token !== params.interaction_token) throw discordErrors.unknownInteraction();
        if (rec.callback) throw discordErrors.alreadyAcknowledged();
        if (state.clock.now() - rec.issuedAt > INTERACTION_RESPONSE_DEADLINE_MS) throw discordErrors.unknownInteraction();
        const b = asObject(body);
        const type = Number(b.type);
        if (!(ACCEPTED_CALLBACKS[rec.type] ?? []).includes(type)) {
          throw fieldError(['type'], 'INTERACTION_RESPONSE_TYPE_INVALID', `Callback type ${String(b.type)} is not valid for interaction type ${rec.type}`);
        }
        let message: MessageRecord | null = null;
        if (type === 4) message = respondMessage(rec, b.data, false);
        if (type === 5) {
          message = respondMessage(rec, b.data, true);
          rec.originalLoading = true;
        }
        if (type === 6 || type === 7) {
          if (rec.messageId === null) throw discordErrors.unknownMessage();
          const ch = state.channelOr404(state.messages.get(rec.messageId)?.channelId ?? rec.channelId);
          message = state.messageOr404(ch, rec.messageId);
          if (type === 7) state.editMessage(ch, message, parseMessageInput(b.data, EDIT_FLAGS));
        }
        if (type === 8) {
          const choices = asObject(b.data).choices;
          if (!Array.isArray(choices) || choices.length > 25) throw fieldError(['data', 'choices'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
        }
        if (type === 9) validateModal(b.data);

        rec.callback = { interactionId: rec.id, type, body: structuredClone(body), at: state.clock.now() };
        rec.originalMessageId = message?.id ?? null;
        state.callbacks.push(rec.callback);

        if (query.get('with_response') !== 'true') return noContent();
        const interaction: Json = { id: rec.id, type: rec.type };
        if (message) {
          interaction.response_message_id = message.id;
          interaction.response_message_loading = (message.flags & MessageFlag.Loading) !== 0;
          interaction.response_message_ephemeral = (message.flags & MessageFlag.Ephemeral) !== 0;
        }
        const resource: Json = { type };
        if (message && (type === 4 || type === 7)) resource.message = state.messageJson(message);
        return ok({ interaction, resource });
      },
      { auth: 'none', globalExempt: true, major: (p) => `${p.interaction_id}/${p.interaction_token}` },
    ),

    route(
      'POST /webhooks/:application_id/:interaction_token',
      ({ params, query, body }) => {
        const rec = webhookInteraction(params.application_id!, params.interaction_token!);
        const ch = state.channelOr404(rec.channelId);
        const input = parseMessageInput(body, RESPONSE_FLAGS);
        let msg: MessageRecord;
        if (rec.originalLoading && rec.originalMessageId) {
          // After a deferred response the first follow-up replaces the "thinking…" message
          // (discord.js guide, "Follow-ups"); its ephemeral state was fixed when deferring.
          msg = state.editMessage(ch, state.messages.get(rec.originalMessageId)!, input, true);
          rec.originalLoading = false;
        } else {
          msg = state.createMessage(ch, input, { authorId: state.botUser.id, source: 'interaction', webhookId: env.applicationId, interactionId: rec.id });
          rec.followupIds.push(msg.id);
        }
        // execute-webhook: 204 unless `wait=true`; discord.js' followUp always sends wait=true.
        return query.get('wait') === 'true' ? ok(state.messageJson(msg)) : noContent();
      },
      { auth: 'none', globalExempt: true, major: (p) => `${p.application_id}/${p.interaction_token}` },
    ),

    route(
      'GET /webhooks/:application_id/:interaction_token/messages/:message_id',
      ({ params }) => {
        const rec = webhookInteraction(params.application_id!, params.interaction_token!);
        return ok(state.messageJson(webhookMessage(rec, params.message_id!)));
      },
      { auth: 'none', globalExempt: true, major: (p) => `${p.application_id}/${p.interaction_token}` },
    ),

    route(
      'PATCH /webhooks/:application_id/:interaction_token/messages/:message_id',
      ({ params, body }) => {
        const rec = webhookInteraction(params.application_id!, params.interaction_token!);
        const msg = webhookMessage(rec, params.message_id!);
        const ch = state.channelOr404(msg.channelId);
        const clearLoading = msg.id === rec.originalMessageId && rec.originalLoading;
        state.editMessage(ch, msg, parseMessageInput(body, EDIT_FLAGS), clearLoading);
        if (clearLoading) rec.originalLoading = false;
        return ok(state.messageJson(msg));
      },
      { auth: 'none', globalExempt: true, major: (p) => `${p.application_id}/${p.interaction_token}` },
    ),

    route(
      'DELETE /webhooks/:application_id/:interaction_token/messages/:message_id',
      ({ params }) => {
        const rec = webhookInteraction(params.application_id!, params.interaction_token!);
        const msg = webhookMessage(rec, params.message_id!);
        state.assertEditable(state.channelOr404(msg.channelId));
        msg.deleted = true;
        return noContent();
      },
      { auth: 'none', globalExempt: true, major: (p) => `${p.application_id}/${p.interaction_token}` },
    ),
  ];
}
