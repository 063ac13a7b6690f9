import { API } from "@discordjs/core/http-only";
import { REST } from "@discordjs/rest";
import type { ChatAdapter, SendOptions } from "../../core/chat/chat.js";
import { RateLimitedError } from "../../core/errors.js";
import type { Logger, RateBudget, RateRule } from "../../core/ports.js";
import { truncate } from "../../core/jobs/tail.js";
import { paced, takeOrThrow } from "../pace.js";
import { channelKey, DiscordCode, DiscordRefusedError, GLOBAL_KEY, translateError } from "./errors.js";
import { decodeMessage, decodeRef, encodeMessage, encodeThread } from "./refs.js";
import { renderMessage, type DiscordMessage } from "./render.js";

export interface DiscordSettings {
  readonly botToken: string;
  readonly apiUrl: string;
}

/**
 * Discord allows 50 requests per second per bot (topics/rate-limits.mdx);
 * testum keeps all its processes together to 30 (chat-platforms.md §3.1).
 * A burst of 15 keeps any one second under 50.
 */
const GLOBAL_RULE: RateRule = { ratePerSecond: 30, burst: 15 };
/** Message create and edit: about 5 per 5 s per channel (discord-api-docs#20, obs.). */
const CHANNEL_RULE: RateRule = { ratePerSecond: 1, burst: 5 };
/** Each live message is edited at most every 2 s (≤ 0.5/s per thread bucket, chat-platforms.md §3.1). */
const MIN_EDIT_INTERVAL_MS = 2000;
/** One day without a message before Discord archives a job's thread (allowed: 60, 1440, 4320, 10080). */
const AUTO_ARCHIVE_MINUTES = 1440;
/** Thread names are 1–100 characters (channel.mdx "Start Thread from Message"). */
const THREAD_NAME_MAX = 100;

/**
 * The REST client for web and worker processes. Rate limits are not waited
 * out inside it (its limiter lives in one process's memory): they surface as
 * errors, and testum's shared budget decides.
 */
export function createDiscordApi(settings: DiscordSettings): API {
  const rest = new REST({ api: settings.apiUrl, version: "10", rejectOnRateLimit: () => true, retries: 2 });
  return new API(rest.setToken(settings.botToken));
}

function threadName(title: string): string {
  const flat = title.replace(/[\s\x00-\x1f\x7f]+/g, " ").trim();
  return truncate(flat, THREAD_NAME_MAX) || "testum job";
}

const isArchived = (err: unknown) => err instanceof DiscordRefusedError && err.discordCode === DiscordCode.threadArchived;

/** The Discord side of the chat contract, used by web and worker processes alike. */
export function createDiscordChat(api: API, budget: RateBudget, log?: Logger): ChatAdapter {
  /** Once Discord refused the bot token, the REST client has dropped it: say so at once. */
  let tokenRefused: DiscordRefusedError | undefined;

  async function request<T>(call: () => Promise<T>): Promise<T> {
    if (tokenRefused) throw tokenRefused;
    try {
      return await call();
    } catch (err) {
      const translated = await translateError(err, budget);
      if (translated instanceof DiscordRefusedError && translated.status === 401) tokenRefused = translated;
      throw translated;
    }
  }

  /** For calls that must happen (new messages, threads): waits for both budgets and through rate limits. */
  const send = <T>(channel: string, call: () => Promise<T>, options?: SendOptions): Promise<T> =>
    paced(budget, channelKey(channel), CHANNEL_RULE, () => paced(budget, GLOBAL_KEY, GLOBAL_RULE, () => request(call), options?.maxWaitMs), options?.maxWaitMs);

  /** For edits: a newer frame replaces this one, so a rate limit is reported rather than waited out. */
  async function attempt<T>(channel: string, call: () => Promise<T>): Promise<T> {
    await takeOrThrow(budget, channelKey(channel), CHANNEL_RULE);
    await takeOrThrow(budget, GLOBAL_KEY, GLOBAL_RULE);
    return request(call);
  }

  /**
   * Edits in an archived thread fail with 50083 (topics/threads.mdx). Reopens
   * the thread and edits again; if it may not be reopened, posts the content
   * as a new message, so a final status is never lost.
   */
  async function editInArchivedThread(thread: string, id: string, body: DiscordMessage): Promise<void> {
    try {
      await attempt(thread, () => api.channels.edit(thread, { archived: false }));
    } catch (err) {
      if (err instanceof RateLimitedError || tokenRefused) throw err;
      log?.warn({ err, thread }, "could not unarchive a thread; posting the message anew");
      // Posting reopens a thread that is not locked.
      await attempt(thread, () => api.channels.createMessage(thread, body));
      return;
    }
    await attempt(thread, () => api.channels.editMessage(thread, id, body));
  }

  return {
    platform: "discord",
    minEditIntervalMs: MIN_EDIT_INTERVAL_MS,
    async startThread(conversation, view, title, options) {
      const { guild, channel } = decodeRef(conversation);
      const parent = await send(channel, () => api.channels.createMessage(channel, renderMessage(view)), options);
      const message = encodeMessage(guild, channel, parent.id);
      try {
        // The message is posted: its thread is made now, waiting for the budget if need be.
        const thread = await send(channel, () => api.channels.createThread(channel, { name: threadName(title), auto_archive_duration: AUTO_ARCHIVE_MINUTES }, parent.id));
        return { message, thread: encodeThread(guild, thread.id) };
      } catch (err) {
        // Threads do not nest: /testum used inside a thread keeps the job in that thread.
        if (err instanceof DiscordRefusedError && err.discordCode === DiscordCode.wrongChannelType) {
          return { message, thread: encodeThread(guild, channel) };
        }
        throw err;
      }
    },
    async post(thread, view, options) {
      const { guild, channel } = decodeRef(thread);
      const posted = await send(channel, () => api.channels.createMessage(channel, renderMessage(view)), options);
      return encodeMessage(guild, channel, posted.id);
    },
    async edit(message, view) {
      const { channel, message: id } = decodeMessage(message);
      const body = renderMessage(view);
      try {
        await attempt(channel, () => api.channels.editMessage(channel, id, body));
      } catch (err) {
        if (!isArchived(err)) throw err;
        await editInArchivedThread(channel, id, body);
      }
    },
  };
}
