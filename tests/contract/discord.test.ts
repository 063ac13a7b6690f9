import { createDiscordApi, createDiscordChat } from "../../src/adapters/discord/chat.js";
import { startDiscordGateway } from "../../src/adapters/discord/gateway.js";
import { createDiscordReceiver } from "../../src/adapters/discord/http.js";
import { startFakeDiscord, type FakeDiscord } from "../fakes/discord-api.js";
import { commandInteraction, createDiscordKeys, postSignedDiscord, snowflake } from "../helpers/discord-sign.js";
import { quietLogger } from "../helpers/testum.js";
import { chatContract, type ContractDriver } from "./chat-contract.js";
import { isolatedBudget, serve } from "./harness.js";

/** What every Discord driver shares: the fake, the adapter, and reading back what people see. */
async function discordDriver() {
  const discord = await startFakeDiscord();
  const log = quietLogger();
  const isolated = isolatedBudget();
  const api = createDiscordApi({ botToken: discord.botToken, apiUrl: discord.api });
  const adapter = createDiscordChat(api, isolated.budget, log);
  const user = { id: snowflake(), username: "contract" };
  discord.addMember(discord.guildId, user.id, { username: user.username });
  const interaction = (discordFake: FakeDiscord, path: string[], options: Record<string, string>) => {
    const issued = discordFake.issueInteraction({ channelId: discordFake.channelId, userId: user.id });
    return commandInteraction({
      id: issued.id,
      token: issued.token,
      applicationId: discordFake.applicationId,
      guildId: discordFake.guildId,
      channelId: discordFake.channelId,
      user,
      subcommand: path[0]!,
      options,
    });
  };
  const base: Omit<ContractDriver, "sendCommand" | "sendForged" | "stop"> = {
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
  };
  return { discord, log, api, adapter, isolated, base, interaction: (path: string[], options: Record<string, string>) => interaction(discord, path, options) };
}

chatContract("discord", async (core) => {
  const { discord, log, api, adapter, isolated, base, interaction } = await discordDriver();
  const keys = createDiscordKeys();
  const receiver = createDiscordReceiver({ publicKey: keys.publicKeyHex, applicationId: discord.applicationId, api, core, chat: adapter, log });
  const { url, server } = await serve(receiver.listener);
  return {
    ...base,
    async sendCommand(_text, typed) {
      const res = await postSignedDiscord(`${url}/discord/interactions`, interaction(typed.path, typed.options), keys.privateKey);
      return { status: res.status, body: res.text };
    },
    async sendForged(_text, typed) {
      return postSignedDiscord(`${url}/discord/interactions`, interaction(typed.path, typed.options), createDiscordKeys().privateKey);
    },
    async stop() {
      server.close();
      isolated.close();
      await discord.close();
    },
  };
});

chatContract(
  "discord",
  async (core) => {
    const { discord, log, api, adapter, isolated, base, interaction } = await discordDriver();
    const gateway = startDiscordGateway({ applicationId: discord.applicationId, api, core, chat: adapter, log, botToken: discord.botToken, replay: isolated.replay });
    await gateway.ready;
    return {
      ...base,
      async sendCommand(_text, typed) {
        const { id } = discord.deliverInteraction(interaction(typed.path, typed.options));
        const callback = await discord.waitFor(() => discord.callbacks().find((c) => c.interactionId === id));
        return { status: 200, body: JSON.stringify(callback.body) };
      },
      async stop() {
        await gateway.stop();
        isolated.close();
        await discord.close();
      },
    };
  },
  { name: "the Gateway", signed: false },
);
