import type { SettingsOf } from "../../core/config.js";
import { countChatCall, countChatRateLimited } from "../metrics/chat.js";
import type { Connected, PlatformServices } from "../platform.js";
import { createSlackChat, createSlackClient } from "./chat.js";
import type { slackConfig } from "./config.js";
import { createSlackReceiver } from "./http.js";
import { createSlackPeople } from "./people.js";
import { startSlackSocketMode } from "./socket.js";

/** A fetch for Slack's Web API client that counts every request by method (`chat.postMessage` …), and the 429s. */
const countingSlackFetch: typeof fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : input);
  const method = url.pathname.slice(url.pathname.lastIndexOf("/") + 1) || "unknown";
  countChatCall("slack", method);
  const res = await fetch(input, init);
  if (res.status === 429) countChatRateLimited("slack", method);
  return res;
};

/** The settings that turn Slack on: the bot token, with the app-level token or the signing secret (config.ts checks they come together). */
export type SlackOn = SettingsOf<typeof slackConfig> & { readonly SLACK_BOT_TOKEN: string; readonly publicUrl: string };

/**
 * Slack, on: the Web API client (its requests counted for metrics), the chat
 * adapter and the people lookup; its way in is Socket Mode when the
 * app-level token is set, else the HTTP endpoint at /slack/events.
 */
export function connectSlack(config: SlackOn, { log, budget }: PlatformServices): Connected {
  const settings = { botToken: config.SLACK_BOT_TOKEN, apiUrl: config.SLACK_API_URL };
  const client = createSlackClient(settings, log, countingSlackFetch);
  return {
    adapter: createSlackChat(client, budget),
    people: createSlackPeople(client, log),
    async listen({ core, chat, replay }) {
      const deps = { settings, core, chat, log };
      if (config.SLACK_APP_TOKEN) {
        const socket = startSlackSocketMode({ ...deps, appToken: config.SLACK_APP_TOKEN, replay, fetch: countingSlackFetch });
        const unused = config.SLACK_SIGNING_SECRET ? "; SLACK_SIGNING_SECRET is not used" : "";
        log.info({ adapter: "slack", transport: "socket" }, `Slack: on, over Socket Mode; nothing needs to reach testum from outside (SLACK_APP_TOKEN is set${unused})`);
        return { stop: () => socket.stop() };
      }
      const receiver = createSlackReceiver({ ...deps, signingSecret: config.SLACK_SIGNING_SECRET! });
      log.info(
        { adapter: "slack", transport: "http" },
        `Slack: on, events posted to ${config.publicUrl}/slack/events (SLACK_SIGNING_SECRET is set; SLACK_APP_TOKEN would use Socket Mode instead)`,
      );
      return { routes: { "/slack/events": receiver.listener } };
    },
  };
}
