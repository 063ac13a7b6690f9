import type { SettingsOf } from "../../core/config.js";
import type { REST } from "@discordjs/rest";
import { countChatCall, countChatRateLimited } from "../metrics/chat.js";
import type { Connected, PlatformServices } from "../platform.js";
import { createDiscordApi, createDiscordChat } from "./chat.js";
import type { discordConfig } from "./config.js";
import { startDiscordGateway } from "./gateway.js";
import { createDiscordReceiver } from "./http.js";
import { createDiscordPeople } from "./people.js";

/** Counts every HTTP request the REST client makes, and the ones Discord answered 429. */
export function countDiscordCalls(rest: REST): void {
  rest.on("response", (request, response) => {
    // Ids (snowflakes) out of the route, so the label has a few values, not one per channel.
    const method = `${request.method.toUpperCase()} ${request.route.replace(/\d{15,}/g, ":id")}`;
    countChatCall("discord", method);
    if (response.status === 429) countChatRateLimited("discord", method);
  });
}

/** The settings that turn Discord on: the application id and the bot token (config.ts checks they come together). */
export type DiscordOn = SettingsOf<typeof discordConfig> & {
  readonly DISCORD_APPLICATION_ID: string;
  readonly DISCORD_BOT_TOKEN: string;
  readonly publicUrl: string;
};

/**
 * Discord, on: the REST client (its requests counted for metrics), the chat
 * adapter and the people lookup; its way in is the Gateway, or the HTTP
 * endpoint at /discord/interactions (DISCORD_TRANSPORT, else whether the
 * public key is set).
 */
export function connectDiscord(config: DiscordOn, { log, budget }: PlatformServices): Connected {
  const api = createDiscordApi({ botToken: config.DISCORD_BOT_TOKEN, apiUrl: config.DISCORD_API_URL });
  countDiscordCalls(api.rest);
  return {
    adapter: createDiscordChat(api, budget, log),
    people: createDiscordPeople(api),
    async listen({ core, chat, replay }) {
      const deps = { applicationId: config.DISCORD_APPLICATION_ID, api, core, chat, log };
      // The public key is only needed to check requests posted to the HTTP endpoint.
      const transport = config.DISCORD_TRANSPORT ?? (config.DISCORD_PUBLIC_KEY ? "http" : "gateway");
      if (transport === "http") {
        const receiver = createDiscordReceiver({ ...deps, publicKey: config.DISCORD_PUBLIC_KEY! });
        const why = config.DISCORD_TRANSPORT ? "DISCORD_TRANSPORT=http" : "DISCORD_PUBLIC_KEY is set";
        log.info({ adapter: "discord", transport }, `Discord: on, interactions posted to ${config.publicUrl}/discord/interactions (${why})`);
        return { routes: { "/discord/interactions": receiver.listener } };
      }
      const gateway = startDiscordGateway({ ...deps, botToken: config.DISCORD_BOT_TOKEN, replay });
      const why = config.DISCORD_TRANSPORT ? "DISCORD_TRANSPORT=gateway" : "DISCORD_PUBLIC_KEY is not set";
      log.info({ adapter: "discord", transport }, `Discord: on, over the Gateway; nothing needs to reach testum from outside (${why})`);
      return { stop: () => gateway.stop() };
    },
  };
}
