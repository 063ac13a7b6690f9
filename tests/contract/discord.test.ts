import { createDiscordApi, createDiscordChat, createDiscordReceiver } from "../../src/adapters/discord/index.js";
import { startFakeDiscord } from "../fakes/discord-api.js";
import { commandInteraction, createDiscordKeys, postSignedDiscord, snowflake } from "../helpers/discord-sign.js";
import { quietLogger } from "../helpers/testum.js";
import { chatContract } from "./chat-contract.js";
import { isolatedBudget, serve } from "./harness.js";

chatContract("discord", async (core) => {
  const discord = await startFakeDiscord();
  const keys = createDiscordKeys();
  const log = quietLogger();
  const { budget, close } = isolatedBudget();
  const api = createDiscordApi({ botToken: discord.botToken, apiUrl: discord.api });
  const adapter = createDiscordChat(api, budget, log);
  const receiver = createDiscordReceiver({ publicKey: keys.publicKeyHex, applicationId: discord.applicationId, api, core, chat: adapter, log });
  const { url, server } = await serve(receiver.listener);
  const user = { id: snowflake(), username: "contract" };
  discord.addMember(discord.guildId, user.id, { username: user.username });
  const interaction = (path: string[], options: Record<string, string>) => {
    const issued = discord.issueInteraction({ channelId: discord.channelId, userId: user.id });
    return commandInteraction({ id: issued.id, token: issued.token, applicationId: discord.applicationId, guildId: discord.guildId, channelId: discord.channelId, user, subcommand: path[0]!, options });
  };
  return {
    adapter,
    conversation: `discord:${discord.guildId}:${discord.channelId}`,
    read(ref) {
      const message = discord.message(ref.split(":").at(-1)!);
      if (!message) return undefined;
      const parts = [message.content];
      for (const embed of message.embeds ?? []) {
        parts.push(embed.title ?? "", embed.description ?? "", embed.footer?.text ?? "");
        for (const field of embed.fields ?? []) parts.push(field.name, field.value);
      }
      const rows = (message.components ?? []) as unknown as Array<{ components?: Array<{ custom_id?: string }> }>;
      const buttons = rows.flatMap((row) => row.components ?? []).map((c) => c.custom_id ?? "");
      return { text: parts.join("\n"), buttons: buttons.filter(Boolean) };
    },
    threadMessages(thread) {
      const [, guild, id] = thread.split(":");
      return discord.messages(id!).map((m) => `discord:${guild}:${id}:${m.id}`);
    },
    anyPings: () => discord.pings().length > 0,
    rateLimits: {
      nextEdit(seconds) {
        discord.failNext({ method: "PATCH", pathPattern: /\/channels\/\d+\/messages\/\d+$/ }, { status: 429, retryAfter: seconds });
      },
      count: () => discord.rateLimitedCount(),
    },
    async sendCommand(_text, typed) {
      const res = await postSignedDiscord(`${url}/discord/interactions`, interaction(typed.path, typed.options), keys.privateKey);
      return { status: res.status, body: res.text };
    },
    async sendForged(_text, typed) {
      return postSignedDiscord(`${url}/discord/interactions`, interaction(typed.path, typed.options), createDiscordKeys().privateKey);
    },
    async stop() {
      server.close();
      close();
      await discord.close();
    },
  };
});
