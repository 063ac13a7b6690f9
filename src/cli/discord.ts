import type { APIApplicationCommand, APIApplicationCommandOption } from "discord-api-types/v10";
import { discordConfig } from "../adapters/discord/config.js";
import { loadConfig } from "../config.js";
import { ConfigError, loadSettings } from "../core/config.js";
import { discordInviteUrl } from "../adapters/discord/invite.js";
import { TestumError } from "../core/errors.js";
import { CliUsageError, parseVerbArgs, type Verb } from "./shared.js";

const REGISTER_HELP = `Usage: testum discord register [--guild ID]

Registers the /testum slash command with Discord, built from the commands this
version of testum understands. The application's commands are overwritten in
one request, so running it again changes nothing; run it after upgrading.

  --guild ID   register in that server only: it shows at once, which suits
               trying testum out. Without it the command is global, and
               Discord may take a while to show changes everywhere.

Needs DISCORD_APPLICATION_ID and DISCORD_BOT_TOKEN (and DISCORD_API_URL when
Discord is reached through something other than https://discord.com/api).`;

/** `/testum run TARGET COMMAND [timeout]` for each subcommand of the registered command. */
function usageLines(command: APIApplicationCommand): string[] {
  const lines: string[] = [];
  const walk = (options: readonly APIApplicationCommandOption[] | undefined, path: string[]) => {
    const leaves = (options ?? []).filter((o) => o.type !== 1 && o.type !== 2);
    const nested = (options ?? []).filter((o) => o.type === 1 || o.type === 2);
    if (nested.length === 0) {
      const args = leaves.map((o) => ("required" in o && o.required ? o.name.toUpperCase() : `[${o.name}]`));
      lines.push(["/" + command.name, ...path, ...args].join(" "));
    }
    for (const o of nested) walk("options" in o ? (o.options as APIApplicationCommandOption[] | undefined) : undefined, [...path, o.name]);
  };
  walk(command.options, []);
  return lines;
}

const register: Verb = {
  name: "register",
  summary: "register the /testum slash command with Discord",
  help: REGISTER_HELP,
  async run(args) {
    const { values } = parseVerbArgs(this, args, { guild: { type: "string" } });
    if (values.help) return void console.log(REGISTER_HELP);
    const guild = values.guild;
    if (guild !== undefined && !/^\d{17,20}$/.test(guild)) {
      throw new CliUsageError(`--guild expects a server id (a number of 17 to 20 digits), got "${guild}"`, REGISTER_HELP);
    }
    const config = loadConfig();
    const app = config.DISCORD_APPLICATION_ID;
    const token = config.DISCORD_BOT_TOKEN;
    if (!app || !token) {
      const missing = [!app && "DISCORD_APPLICATION_ID", !token && "DISCORD_BOT_TOKEN"].filter((n): n is string => typeof n === "string");
      throw new ConfigError(missing.map((n) => `${n}: required to register commands with Discord`));
    }
    // Loaded only here: the Discord SDK takes a while to import.
    const [{ API }, { REST, DiscordAPIError }, { buildDiscordCommand }, { explainDiscordError, DiscordCode }] = await Promise.all([
      import("@discordjs/core/http-only"),
      import("@discordjs/rest"),
      import("../adapters/discord/commands.js"),
      import("../adapters/discord/errors.js"),
    ]);
    // A one-off call: waiting out a rate limit here is fine.
    const commands = new API(new REST({ api: config.DISCORD_API_URL, version: "10" }).setToken(token)).applicationCommands;
    const body = [buildDiscordCommand()];
    let before: APIApplicationCommand[];
    let after: APIApplicationCommand[];
    try {
      before = guild ? await commands.getGuildCommands(app, guild) : await commands.getGlobalCommands(app);
      after = guild ? await commands.bulkOverwriteGuildCommands(app, guild, body) : await commands.bulkOverwriteGlobalCommands(app, body);
    } catch (err) {
      if (!(err instanceof DiscordAPIError)) throw err;
      const reason =
        guild && (err.code === DiscordCode.missingAccess || err.status === 404)
          ? `testum is not in server ${guild}, or was added without the applications.commands scope.`
          : explainDiscordError(err);
      throw new TestumError("chat_unavailable", `Discord refused to register the commands: ${reason}`, { cause: err });
    }
    const scope = guild ? `in server ${guild}` : "globally";
    for (const command of after) {
      const old = before.find((c) => c.name === command.name && c.type === command.type);
      const state = !old ? "created" : old.version === command.version ? "unchanged" : "updated";
      console.log(`/${command.name} ${state} ${scope} (application ${app}, command ${command.id}, version ${command.version}):`);
      for (const line of usageLines(command)) console.log(`  ${line}`);
    }
    const removed = before.filter((c) => !after.some((a) => a.name === c.name && a.type === c.type));
    if (removed.length > 0) console.log(`Removed: ${removed.map((c) => `/${c.name}`).join(", ")}`);
    if (!guild) console.log("Global commands may take a while to show in every server; --guild ID shows them in one server at once.");
  },
};

const INVITE_HELP = `Usage: testum discord invite-url

Prints the link that adds testum to a Discord server: the bot with the
applications.commands scope and only the permissions it uses (View Channel,
Send Messages, Embed Links, Create Public Threads, Send Messages in
Threads). Open it, pick the server, and authorise.

Needs DISCORD_APPLICATION_ID (General Information → Application ID).`;

const invite: Verb = {
  name: "invite-url",
  summary: "print the link that adds testum to a server, with exactly the permissions it needs",
  help: INVITE_HELP,
  async run(args) {
    const { values } = parseVerbArgs(this, args, {});
    if (values.help) return void console.log(INVITE_HELP);
    const { DISCORD_APPLICATION_ID: discordApplicationId } = loadSettings({ DISCORD_APPLICATION_ID: discordConfig.fields.DISCORD_APPLICATION_ID });
    if (!discordApplicationId) throw new ConfigError(["DISCORD_APPLICATION_ID: required (General Information → Application ID in the Developer Portal)"]);
    console.log(discordInviteUrl(discordApplicationId));
  },
};

export const DISCORD_VERBS: readonly Verb[] = [register, invite];
