import type { App } from "@slack/bolt";
import slackWebApi from "@slack/web-api";
import type { App as CoreApp } from "../../core/app.js";
import type { Actor, ChatAdapter, Inbound, Reply, View } from "../../core/chat/chat.js";
import type { Logger } from "../../core/ports.js";
import { message, replyWithin, working } from "../../core/chat/replies.js";
import { createGroupLookup, createLocaleLookup } from "./people.js";
import { decodeSlackText } from "./parse.js";
import { encodeConversation, encodeMessage, slackIdentity } from "./refs.js";
import { renderModal, renderView } from "./render.js";
import { boltLogger } from "./bolt-logger.js";
import { SLACK_TEXT } from "./strings.js";

const { WebClient } = slackWebApi;

export interface SlackHandlerDeps {
  readonly settings: { readonly botToken: string; readonly apiUrl: string };
  readonly core: CoreApp;
  readonly chat: ChatAdapter;
  readonly log: Logger;
}

/** Answer within Slack's 3 s, leaving room for the network. */
const ACK_WITHIN_MS = 2000;

/**
 * Slash commands, button clicks and modal submissions, on a Bolt app whose
 * receiver may be HTTP or Socket Mode: the same handlers, the same answers.
 */
export function registerSlackHandlers(app: App, deps: SlackHandlerDeps): void {
  const { core, chat, log } = deps;
  // Lookups and modals answer within Slack's 3 s or not at all: no retries, a short timeout. A client
  // of their own, with the bot token (an app that authorizes per event has no token on app.client).
  const client = new WebClient(deps.settings.botToken, {
    slackApiUrl: deps.settings.apiUrl,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: 2500,
    logger: boltLogger(log),
  });

  const ephemeral = (view: View) => ({ response_type: "ephemeral" as const, replace_original: false, ...renderView(view) });
  const groupsOf = createGroupLookup(client, log);
  const localeOf = createLocaleLookup(client, log);
  /** Groups and locale are looked up side by side: together they wait at most one short limit. */
  const actorOf = async (team: string, org: string, user: string, name: string | undefined): Promise<Actor> => {
    const [groups, locale] = await Promise.all([groupsOf(team, org, user), localeOf(team, user)]);
    return { id: slackIdentity(team, org, user), name, groups, locale };
  };

  app.command(/.*/, async ({ command, ack, respond }) => {
    const org = command.enterprise_id || command.team_id;
    const actor = await actorOf(command.team_id, org, command.user_id, command.user_name);
    const t = core.translator(actor.locale);
    const event: Inbound = {
      kind: "command",
      actor,
      conversation: encodeConversation(command.team_id, command.channel_id),
      eventId: command.trigger_id,
      input: { type: "text", text: decodeSlackText(command.text ?? "", org) },
      respond: async (view) => void (await respond(ephemeral(view))),
    };
    const reply = await replyWithin(core.handle(event), ACK_WITHIN_MS, (late) => void deliver(late, event, respond));
    if (reply?.kind === "form") {
      await ack();
      await openModal(reply, command.trigger_id, command.channel_id).catch(async (err) => {
        log.warn({ err }, "could not open a Slack modal");
        await respond(ephemeral(message(SLACK_TEXT.say(t, "adapter.slack.form_not_opened"), undefined, "warning")));
      });
    } else {
      await ack(ephemeral(reply && reply.kind !== "none" ? reply.view : { ...working(t), lang: t.lang }));
    }
  });

  app.action(/^testum-/, async ({ body, action, ack, respond }) => {
    await ack();
    if (body.type !== "block_actions" || action.type !== "button") return;
    const team = body.team?.id ?? body.user.team_id ?? "";
    const channel = body.channel?.id ?? body.container?.channel_id;
    const ts = body.message?.ts ?? body.container?.message_ts;
    if (!channel || !ts) return;
    const actor = await actorOf(body.user.team_id ?? team, body.enterprise?.id || (body.user.team_id ?? team), body.user.id, body.user.username ?? body.user.name);
    const event: Inbound = {
      kind: "action",
      actor,
      conversation: encodeConversation(team, channel),
      message: encodeMessage(team, channel, ts),
      action: action.value ?? "",
      eventId: body.trigger_id,
      respond: async (view) => void (await respond(ephemeral(view))),
    };
    const reply = await core.handle(event);
    if (reply.kind === "update") await chat.edit(event.message!, reply.view).catch((err) => log.warn({ err }, "could not update the clicked message"));
    else if (reply.kind === "private") await respond(ephemeral(reply.view));
    else if (reply.kind === "form") await openModal(reply, body.trigger_id, channel);
  });

  app.view(/.*/, async ({ body, view, ack }) => {
    const values: Record<string, string> = {};
    for (const [blockId, inputs] of Object.entries(view.state.values)) {
      const value = (inputs as Record<string, { value?: string | null }>).value?.value;
      if (typeof value === "string") values[blockId] = value;
    }
    const team = body.team?.id ?? body.user.team_id ?? "";
    const event: Inbound = {
      kind: "form",
      actor: await actorOf(body.user.team_id ?? team, body.enterprise?.id || (body.user.team_id ?? team), body.user.id, body.user.name),
      conversation: encodeConversation(team, view.private_metadata || "unknown"),
      action: view.callback_id,
      values,
      // A modal answered with errors is submitted again with the same view id: its trigger id is new.
      eventId: (body as { trigger_id?: string }).trigger_id ?? `${body.view.id}:${body.view.hash}`,
      respond: async () => {},
    };
    // A modal must be answered within 3 s: a slower answer closes it and comes as a private message in the channel.
    const channel = view.private_metadata;
    const reply = await replyWithin(core.handle(event), ACK_WITHIN_MS, (late) => {
      if (late.kind !== "private" && late.kind !== "update") return;
      client.chat
        .postEphemeral({ channel, user: body.user.id, ...renderView(late.view) } as never)
        .catch((err: unknown) => log.warn({ err, event: event.eventId }, "could not deliver a late reply"));
    });
    if (reply === undefined) {
      await ack();
    } else if (reply.kind === "private" && reply.refused) {
      // Only a refusal keeps the form open, its reason under the first field: anything else
      // (a job queued, or waiting for approval) was done, and submitting again would do it again.
      const first = Object.keys(values)[0] ?? "value";
      await ack({ response_action: "errors", errors: { [first]: reply.view.text.slice(0, 150) } });
    } else if (reply.kind === "private") {
      const close = core.translator(event.actor.locale)("button.close");
      await ack({
        response_action: "update",
        view: { type: "modal", title: { type: "plain_text", text: "testum" }, close: { type: "plain_text", text: close }, blocks: renderView(reply.view).blocks as never },
      });
    } else {
      await ack();
    }
  });

  /** The channel rides along in private_metadata so the submission knows where it came from. */
  async function openModal(reply: Extract<Reply, { kind: "form" }>, triggerId: string, channel: string): Promise<void> {
    await client.views.open({ trigger_id: triggerId, view: { ...renderModal(reply.form), private_metadata: channel } as never });
  }

  async function deliver(reply: Reply, event: Inbound, respond: (msg: object) => Promise<unknown>): Promise<void> {
    try {
      if (reply.kind === "private" || reply.kind === "update") await respond(ephemeral(reply.view));
    } catch (err) {
      log.warn({ err, event: event.eventId }, "could not deliver a late reply");
    }
  }
}
