import { DiscordAPIError, HTTPError, RateLimitError } from "@discordjs/rest";
import { ChatUnreachableError, RateLimitedError, TestumError } from "../../core/errors.js";
import { english, msg, say, type Message } from "../../core/chat/i18n.js";
import type { RateBudget } from "../../core/ports.js";
import { DISCORD_TEXT } from "./strings.js";

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

  constructor(message: string | Message, discordCode: number | string, status: number, cause: unknown) {
    super("chat_unavailable", message, { cause });
    this.name = "DiscordRefusedError";
    this.discordCode = discordCode;
    this.status = status;
  }
}

/** Discord's refusals, in words a user can act on (said later, in the reader's language). */
export function discordErrorMessage(err: DiscordAPIError): Message {
  if (err.status === 401) return DISCORD_TEXT.msg("adapter.discord.token_refused");
  switch (err.code) {
    case DiscordCode.missingAccess:
    case DiscordCode.missingPermissions:
      return DISCORD_TEXT.msg("adapter.discord.no_permission");
    case DiscordCode.unknownChannel:
      return DISCORD_TEXT.msg("adapter.discord.unknown_channel");
    case DiscordCode.unknownMessage:
      return msg("adapter.unknown_message");
    case DiscordCode.threadArchived:
      return DISCORD_TEXT.msg("adapter.discord.thread_archived");
    case DiscordCode.wrongChannelType:
      return DISCORD_TEXT.msg("adapter.discord.wrong_channel_type");
    default:
      return DISCORD_TEXT.msg("adapter.discord.refused", { code: String(err.code), problem: err.message.split("\n")[0]! });
  }
}

/** The same in English, for the CLI. */
export function explainDiscordError(err: DiscordAPIError): string {
  return say(english, discordErrorMessage(err));
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
  if (err instanceof DiscordAPIError && err.status >= 500) return new ChatUnreachableError(DISCORD_TEXT.msg("adapter.discord.http_error", { status: err.status }), { cause: err });
  if (err instanceof DiscordAPIError) return new DiscordRefusedError(discordErrorMessage(err), err.code, err.status, err);
  if (err instanceof HTTPError) {
    return new ChatUnreachableError(DISCORD_TEXT.msg("adapter.discord.http_error", { status: err.status }), { cause: err });
  }
  // The call never got through: a timeout, or a socket error carrying a system code (ECONNREFUSED, UND_ERR_…).
  if (err instanceof Error && (err.name === "AbortError" || typeof (err as { code?: unknown }).code === "string")) {
    return new ChatUnreachableError(DISCORD_TEXT.msg("adapter.discord.unreachable"), { cause: err });
  }
  return err;
}

/** The shared budget of one channel (a thread is a channel too). */
export function channelKey(channel: string): string {
  return `discord:channel:${channel}`;
}
