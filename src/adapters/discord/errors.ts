import { DiscordAPIError, HTTPError, RateLimitError } from "@discordjs/rest";
import { RateLimitedError, TestumError } from "../../core/errors.js";
import type { RateBudget } from "../../core/ports.js";

/** JSON error codes testum reacts to (topics/opcodes-and-status-codes.mdx). */
export const DiscordCode = {
  unknownChannel: 10003,
  unknownMessage: 10008,
  unknownWebhook: 10015,
  missingAccess: 50001,
  missingPermissions: 50013,
  wrongChannelType: 50024,
  invalidWebhookToken: 50027,
  invalidFormBody: 50035,
  threadArchived: 50083,
} as const;

/** The key of the budget every testum process shares for Discord's global limit. */
export const GLOBAL_KEY = "discord:global";

/** Discord said no; `discordCode` and `status` say how, the message what to do. */
export class DiscordRefusedError extends TestumError {
  readonly discordCode: number | string;
  readonly status: number;

  constructor(message: string, discordCode: number | string, status: number, cause: unknown) {
    super("chat_unavailable", message, { cause });
    this.name = "DiscordRefusedError";
    this.discordCode = discordCode;
    this.status = status;
  }
}

/** Discord's refusals, in words a user can act on. */
export function explainDiscordError(err: DiscordAPIError): string {
  if (err.status === 401) return "testum's Discord bot token was refused (check DISCORD_BOT_TOKEN).";
  switch (err.code) {
    case DiscordCode.missingAccess:
    case DiscordCode.missingPermissions:
      return "testum may not post here. Give it View Channel, Send Messages, Create Public Threads and Send Messages in Threads in this channel.";
    case DiscordCode.unknownChannel:
      return "the channel no longer exists, or testum cannot see it.";
    case DiscordCode.unknownMessage:
      return "the message to update no longer exists.";
    case DiscordCode.threadArchived:
      return "the job's thread is archived and locked, so testum cannot post in it.";
    case DiscordCode.wrongChannelType:
      return "testum cannot start a thread in this kind of channel.";
    default:
      return `Discord refused the request (${err.code}: ${err.message.split("\n")[0]}).`;
  }
}

/**
 * Turns errors of @discordjs/rest into testum's. A rate limit blocks the
 * shared budget it belongs to (all of Discord for a global limit, else the
 * route's channel) for every process, then surfaces as RateLimitedError so
 * the caller decides when to try again.
 */
export async function translateError(err: unknown, budget: RateBudget): Promise<unknown> {
  if (err instanceof RateLimitError) {
    // The proactive limit can report 0 ms left; a short pause still beats a 429.
    const ms = Math.max(250, Math.ceil(err.retryAfter));
    await budget.block(err.global || err.scope === "global" ? GLOBAL_KEY : channelKey(err.majorParameter), ms);
    return new RateLimitedError(ms);
  }
  if (err instanceof DiscordAPIError) return new DiscordRefusedError(explainDiscordError(err), err.code, err.status, err);
  if (err instanceof HTTPError) {
    return new TestumError("chat_unavailable", `Discord is not answering properly (HTTP ${err.status}); try again shortly.`, { cause: err });
  }
  // The call never got through: a timeout, or a socket error carrying a system code (ECONNREFUSED, UND_ERR_…).
  if (err instanceof Error && (err.name === "AbortError" || typeof (err as { code?: unknown }).code === "string")) {
    return new TestumError("chat_unavailable", "Discord could not be reached; try again shortly.", { cause: err });
  }
  return err;
}

/** The shared budget of one channel (a thread is a channel too). */
export function channelKey(channel: string): string {
  return `discord:channel:${channel}`;
}
