import slackWebApi from "@slack/web-api";
import type { ChatAdapter } from "../../core/chat/chat.js";
import { RateLimitedError, TestumError } from "../../core/errors.js";
import { msg, type Message } from "../../core/chat/i18n.js";
import type { Logger, RateBudget, RateRule } from "../../core/ports.js";
import { paced, takeOrThrow } from "../pace.js";
import { boltLogger } from "./bolt-logger.js";
import { decodeMessage, decodeRef, encodeMessage } from "./refs.js";
import { renderView } from "./render.js";
import { SLACK_TEXT } from "./strings.js";

const { WebClient, WebAPIPlatformError, WebAPIRateLimitedError } = slackWebApi;
type WebClient = InstanceType<typeof WebClient>;

export interface SlackSettings {
  readonly botToken: string;
  readonly apiUrl: string;
}

/** chat.update is Tier 3 (50+/min per workspace); testum keeps to 40 (chat-platforms.md §3.1). */
const UPDATE_RULE: RateRule = { ratePerSecond: 40 / 60, burst: 10 };
/** chat.postMessage: about 1 per second per channel, short bursts allowed. */
const POST_RULE: RateRule = { ratePerSecond: 1, burst: 3 };
/** Seconds between two edits of one message. */
const MIN_EDIT_INTERVAL_MS = 3000;

/** `fetch`: how requests go out (metrics count them); the global fetch by default. */
export function createSlackClient(settings: SlackSettings, log: Logger, fetch?: typeof globalThis.fetch): WebClient {
  return new WebClient(settings.botToken, {
    slackApiUrl: settings.apiUrl,
    ...(fetch ? { fetch } : {}),
    // One workspace's 429 must not stall every other call in this process:
    // rate limits surface as errors, and testum's own pacing decides.
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 2, minTimeout: 250, maxTimeout: 2000 },
    // Every call ends: a platform that does not answer is tried again later, never waited on.
    timeout: 10_000,
    logger: boltLogger(log),
  });
}

/** Slack's refusals, in words a user can act on (said later, in the reader's language). */
function explain(error: string): Message {
  switch (error) {
    case "not_in_channel":
    case "channel_not_found":
      return SLACK_TEXT.msg("adapter.slack.not_in_channel");
    case "is_archived":
      return SLACK_TEXT.msg("adapter.slack.archived");
    case "invalid_auth":
    case "not_authed":
    case "token_revoked":
    case "account_inactive":
      return SLACK_TEXT.msg("adapter.slack.token_refused");
    case "message_not_found":
      return msg("adapter.unknown_message");
    default:
      return SLACK_TEXT.msg("adapter.slack.refused", { error });
  }
}

/**
 * Turns Web API errors into testum's: rate limits become RateLimitedError
 * (after blocking the whole workspace's shared budget), refusals a
 * TestumError that says what to do.
 */
async function mapErrors<T>(budget: RateBudget, key: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof WebAPIRateLimitedError) {
      const ms = Math.max(1, err.retryAfter) * 1000;
      await budget.block(key, ms);
      throw new RateLimitedError(ms);
    }
    if (err instanceof WebAPIPlatformError) {
      throw new TestumError("chat_unavailable", explain(err.data.error), { cause: err });
    }
    throw err;
  }
}

/** The Slack side of the chat contract, used by web and worker processes alike. */
export function createSlackChat(client: WebClient, budget: RateBudget): ChatAdapter {
  return {
    platform: "slack",
    minEditIntervalMs: MIN_EDIT_INTERVAL_MS,
    async startThread(conversation, view, _title, options) {
      const { team, channel } = decodeRef(conversation);
      const key = `slack:${team}:${channel}:post`;
      const result = await paced(
        budget,
        key,
        POST_RULE,
        () => mapErrors(budget, key, () => client.chat.postMessage({ channel, ...renderView(view), unfurl_links: false, unfurl_media: false })),
        options?.maxWaitMs,
      );
      const ref = encodeMessage(team, channel, String(result.ts));
      return { message: ref, thread: ref };
    },
    async post(thread, view, options) {
      const { team, channel, ts } = decodeMessage(thread);
      const key = `slack:${team}:${channel}:post`;
      const result = await paced(
        budget,
        key,
        POST_RULE,
        () => mapErrors(budget, key, () => client.chat.postMessage({ channel, thread_ts: ts, ...renderView(view), unfurl_links: false, unfurl_media: false })),
        options?.maxWaitMs,
      );
      return encodeMessage(team, channel, String(result.ts));
    },
    async edit(message, view) {
      const { team, channel, ts } = decodeMessage(message);
      const key = `slack:${team}:chat.update`;
      await takeOrThrow(budget, key, UPDATE_RULE);
      await mapErrors(budget, key, () => client.chat.update({ channel, ts, ...renderView(view) }));
    },
  };
}
