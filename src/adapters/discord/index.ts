import type { ChatPlatform } from "../platform.js";
import { discordConfig } from "./config.js";
import { DISCORD_TEXT } from "./strings.js";

/**
 * Discord (discord.com/developers/docs): the /testum application command,
 * buttons and modals in, messages and threads out. The SDK (@discordjs/*)
 * loads only when Discord is on.
 */
export const discord: ChatPlatform<typeof discordConfig> = {
  id: "discord",
  name: "Discord",
  identities: { person: "discord:GUILD:USER", group: "discord:GUILD:role:ROLE" },
  config: discordConfig,
  strings: DISCORD_TEXT,
  async connect(config, services) {
    const { DISCORD_APPLICATION_ID: applicationId, DISCORD_BOT_TOKEN: botToken } = config;
    // config.ts turns Discord on with the application id and the bot token, or leaves it off with neither.
    if (!applicationId || !botToken) return { off: "Discord: off (DISCORD_APPLICATION_ID and DISCORD_BOT_TOKEN not set)" };
    const { connectDiscord } = await import("./connect.js");
    return connectDiscord({ ...config, DISCORD_APPLICATION_ID: applicationId, DISCORD_BOT_TOKEN: botToken }, services);
  },
};
