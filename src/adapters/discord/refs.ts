/**
 * Discord references as core sees them (opaque strings):
 * conversation `discord:GUILD:CHANNEL`, thread `discord:GUILD:THREAD` (a thread
 * started from a message has that message's id, channel.mdx), message
 * `discord:GUILD:CHANNEL_OR_THREAD:MESSAGE`. Every id is a snowflake.
 */
export interface DiscordRef {
  readonly guild: string;
  /** A text channel or a thread: both are channels to the REST API. */
  readonly channel: string;
  readonly message?: string;
}

const SNOWFLAKE = /^\d{1,20}$/;

export function encodeConversation(guild: string, channel: string): string {
  return `discord:${guild}:${channel}`;
}

/** A thread is a channel of its own; its id equals its starter message's id. */
export function encodeThread(guild: string, thread: string): string {
  return `discord:${guild}:${thread}`;
}

export function encodeMessage(guild: string, channel: string, message: string): string {
  return `discord:${guild}:${channel}:${message}`;
}

export function decodeRef(ref: string): DiscordRef {
  const parts = ref.split(":");
  const [platform, guild, channel, message] = parts;
  const valid =
    platform === "discord" &&
    parts.length <= 4 &&
    guild !== undefined &&
    channel !== undefined &&
    SNOWFLAKE.test(guild) &&
    SNOWFLAKE.test(channel) &&
    (message === undefined || SNOWFLAKE.test(message));
  if (!valid) throw new Error(`not a Discord reference: ${ref}`);
  return message === undefined ? { guild: guild!, channel: channel! } : { guild: guild!, channel: channel!, message };
}

export function decodeMessage(ref: string): Required<DiscordRef> {
  const decoded = decodeRef(ref);
  if (decoded.message === undefined) throw new Error(`not a Discord message reference: ${ref}`);
  return decoded as Required<DiscordRef>;
}

/** A member of a guild. User ids are global, but testum grants access per guild. */
export function discordIdentity(guild: string, user: string): string {
  return `discord:${guild}:${user}`;
}

/** A role of a guild, as a group identity an actor belongs to. */
export function discordRoleIdentity(guild: string, role: string): string {
  return `discord:${guild}:role:${role}`;
}
