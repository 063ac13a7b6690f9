import { OAuth2Scopes, PermissionFlagsBits } from "discord-api-types/v10";

/**
 * What the bot needs in a server's channels, and nothing more: see them, post
 * the job's message (with its embed), open a thread on it and post and edit
 * in that thread. Testum never mentions anyone and manages nothing.
 */
export const DISCORD_BOT_PERMISSIONS =
  PermissionFlagsBits.ViewChannel |
  PermissionFlagsBits.SendMessages |
  PermissionFlagsBits.EmbedLinks |
  PermissionFlagsBits.CreatePublicThreads |
  PermissionFlagsBits.SendMessagesInThreads;

/** `bot` adds the bot user to the server; `applications.commands` lets it register /testum there. */
export const DISCORD_SCOPES = [OAuth2Scopes.Bot, OAuth2Scopes.ApplicationsCommands] as const;

/** The URL that adds testum to a server (topics/oauth2.mdx "Bot Authorization Flow"), as a server install. */
export function discordInviteUrl(applicationId: string): string {
  const query = new URLSearchParams({
    client_id: applicationId,
    scope: DISCORD_SCOPES.join(" "),
    permissions: DISCORD_BOT_PERMISSIONS.toString(),
    // 0: GUILD_INSTALL. testum answers only in servers it is a member of.
    integration_type: "0",
  });
  return `https://discord.com/oauth2/authorize?${query.toString()}`;
}
