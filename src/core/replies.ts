import { randomBytes } from "node:crypto";
import type { Block, Reply, View } from "./chat.js";
import { isTestumError, NotAllowedError, UsageError } from "./errors.js";
import type { Logger } from "./ports.js";

/** Small builders for the private answers testum gives in chat. */

export function message(text: string, blocks?: Block[], tone: View["tone"] = "neutral"): View {
  return { text, tone, blocks: blocks ?? [{ type: "text", text }] };
}

export function privateReply(view: View): Reply {
  return { kind: "private", view };
}

export function privateText(text: string, tone: View["tone"] = "neutral"): Reply {
  return privateReply(message(text, undefined, tone));
}

/** A listing: a heading and preformatted lines. */
export function listing(title: string, lines: readonly string[], footer?: string): View {
  const blocks: Block[] = [{ type: "heading", text: title }];
  if (lines.length > 0) blocks.push({ type: "code", lines });
  if (footer) blocks.push({ type: "context", text: footer });
  return { text: title, blocks };
}

/**
 * The one place an error becomes a chat answer: a known error says what was
 * wrong and what to do; anything else is logged with an incident id, which is
 * all the user sees.
 */
export function errorView(err: unknown, log: Logger): View {
  if (isTestumError(err)) {
    const text = err instanceof NotAllowedError ? `🚫 Not allowed: ${err.message}` : `⚠️ ${err.message}`;
    const blocks: Block[] = [{ type: "text", text }];
    if (err instanceof UsageError && err.usage) blocks.push({ type: "context", text: `Usage: ${err.usage}` });
    return { text: err.message, tone: "warning", blocks };
  }
  const incident = randomBytes(4).toString("hex");
  log.error({ err, incident }, "internal error");
  return message(`⚠️ internal error (incident ${incident}). Nothing was run. The operators can find it in testum's log.`, undefined, "failure");
}

/**
 * Platforms want an answer within 3 s. Resolves with the reply if it is ready
 * within `ms`; otherwise resolves undefined (the adapter then acknowledges
 * with an interim note) and hands the reply to `late` when it comes.
 */
export function replyWithin(work: Promise<Reply>, ms: number, late: (reply: Reply) => void): Promise<Reply | undefined> {
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      resolve(undefined);
    }, ms);
    void work.then((reply) => {
      if (timedOut) late(reply);
      else {
        clearTimeout(timer);
        resolve(reply);
      }
    });
  });
}

export const WORKING: View = message("⏳ Working on it…");
