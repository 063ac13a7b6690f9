import { randomBytes } from "node:crypto";
import type { Block, Reply, View } from "./chat.js";
import { isTestumError, NotAllowedError, UsageError } from "../errors.js";
import { english, formatCount, translate, type Lang, type Translator } from "./i18n.js";
import { DatabaseBusyError } from "../db.js";
import { localUsage } from "../commands/grammar.js";
import type { Logger } from "../ports.js";

/** Small builders for the private answers testum gives in chat. */

export function message(text: string, blocks?: Block[], tone: View["tone"] = "neutral"): View {
  return { text, tone, blocks: blocks ?? [{ type: "text", text }] };
}

/** Marks a reply's view or form as written in `lang`, for what the adapter adds to it. */
export function inLanguage(reply: Reply, lang: Lang): Reply {
  if (reply.kind === "private" || reply.kind === "update") return { ...reply, view: { ...reply.view, lang: reply.view.lang ?? lang } };
  if (reply.kind === "form") return { ...reply, form: { ...reply.form, lang: reply.form.lang ?? lang } };
  return reply;
}

export function privateReply(view: View): Reply {
  return { kind: "private", view };
}

export function privateText(text: string, tone: View["tone"] = "neutral"): Reply {
  return privateReply(message(text, undefined, tone));
}

/**
 * How wide a listing's lines may be: about what a Slack message pane shows of
 * monospace text (80), and wide enough for "host key:" and a whole SHA256
 * fingerprint (66). Longer lines would wrap wherever the platform chooses
 * (Discord, which is narrower, still wraps these at word breaks) or scroll
 * sideways.
 */
export const LISTING_WIDTH = 72;

/**
 * A listing line cut to `width` at spaces, each further line indented under
 * the value: after "label:  " for a `label:  value` line, else four spaces
 * deeper than the line. A word longer than a line is cut where it must be.
 */
export function wrapLine(line: string, width = LISTING_WIDTH): string[] {
  if (line.length <= width) return [line];
  const lead = /^\s*/.exec(line)![0];
  // The label and its padding stay as written; the value wraps under itself.
  const label = /^\s*[^\s:][^:]{0,24}:\s+(?=\S)/.exec(line)?.[0];
  const hang = " ".repeat(label !== undefined && label.length <= width / 2 ? label.length : Math.min(lead.length + 4, width / 2));
  // A word too long to hang under the value (a fingerprint, a pattern) starts nearer the left instead of being cut.
  const near = " ".repeat(Math.min(lead.length + 4, width / 2));
  const out: string[] = [];
  let current = label ?? lead;
  let fresh = true;
  // An option in brackets ("[--tz TZ]") stays on one line; words on one line keep the spaces between them.
  for (const [, space, word] of line.slice(current.length).matchAll(/( *)(\[[^\]]*\]|\S+)/g) as IterableIterator<[string, string, string]>) {
    const joined = fresh ? current + word : current + (space || " ") + word;
    if (joined.length <= width) {
      current = joined;
      fresh = false;
      continue;
    }
    if (current.trim() !== "") out.push(current.trimEnd());
    let indent = hang.length + word.length <= width ? hang : near;
    let rest = word;
    while (indent.length + rest.length > width) {
      out.push(indent + rest.slice(0, width - indent.length));
      rest = rest.slice(width - indent.length);
      indent = near;
    }
    current = indent + rest;
    fresh = false;
  }
  if (current.trim() !== "") out.push(current);
  return out;
}

/**
 * A listing: a heading and preformatted lines, split into blocks small
 * enough that no platform cuts them (Discord shows 2,000 characters of a
 * message's content, Slack 3,000 of a block). `wrap`: lines longer than
 * LISTING_WIDTH are wrapped (see wrapLine); leave it off for lines that must
 * be copied whole, such as a public key.
 */
export function listing(title: string, lines: readonly string[], footer?: string, options: { readonly wrap?: boolean } = {}): View {
  const blocks: Block[] = [{ type: "heading", text: title }];
  let chunk: string[] = [];
  let size = 0;
  for (const line of options.wrap ? lines.flatMap((l) => wrapLine(l)) : lines) {
    if (chunk.length > 0 && size + line.length + 1 > LISTING_CHUNK) {
      blocks.push({ type: "code", lines: chunk });
      chunk = [];
      size = 0;
    }
    chunk.push(line);
    size += line.length + 1;
  }
  if (chunk.length > 0) blocks.push({ type: "code", lines: chunk });
  if (footer) blocks.push({ type: "context", text: footer });
  return { text: title, blocks };
}

const LISTING_CHUNK = 1800;

/**
 * Postgres is down, cut off, starting or shutting down, has no free
 * connection (its own `max_connections` included), or cancelled a statement
 * that ran or waited for a lock past the server's limits (SERVER_LIMITS in
 * db.ts): nothing the user did wrong, and no bug either.
 */
/** Statements PostgreSQL cancelled past the server's limits: it answers, but too slowly (a lock held elsewhere, say). */
const TOO_SLOW = ["57014", "55P03"];

export function isDatabaseUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    err instanceof DatabaseBusyError ||
    (typeof code === "string" &&
      [
        "ECONNREFUSED",
        "ECONNRESET",
        "ETIMEDOUT",
        "EPIPE",
        "CONNECTION_CLOSED",
        "CONNECTION_ENDED",
        "CONNECTION_DESTROYED",
        "CONNECT_TIMEOUT",
        "53300",
        "57P01",
        "57P02",
        "57P03",
        ...TOO_SLOW,
      ].includes(code))
  );
}

/**
 * The one place an error becomes a chat answer: a known error says what was
 * wrong and what to do; anything else is logged with an incident id, which is
 * all the user sees.
 */
export function errorView(err: unknown, log: Logger, t: Translator = english): View {
  if (isTestumError(err)) {
    const said = err.say(t);
    const text = err instanceof NotAllowedError ? t("error.not_allowed", { reason: said }) : t("error.known", { reason: said });
    const blocks: Block[] = [{ type: "text", text }];
    if (err instanceof UsageError && err.usage) blocks.push({ type: "context", text: t("error.usage", { usage: localUsage(err.usage, t) }) });
    return { text: said, tone: "warning", blocks };
  }
  if (isDatabaseUnavailable(err)) {
    const slow = TOO_SLOW.includes(String((err as { code?: unknown }).code));
    log.warn({ err: (err as Error).message }, slow ? "the database did not answer in time" : "the database is not reachable");
    return message(t(slow ? "error.database_slow" : "error.database_unavailable"), undefined, "warning");
  }
  const incident = randomBytes(4).toString("hex");
  log.error({ err, incident }, "internal error");
  return message(t("error.internal", { incident }), undefined, "failure");
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

/** The note an adapter puts above a tail it had to cut: "… 1,234 earlier lines in the full log". */
export function earlierLines(count: number, lang: Lang = "en"): string {
  return translate(lang, "adapter.earlier_lines", { n: formatCount(count, lang) });
}

/** The interim answer while a reply takes longer than the platform waits. */
export function working(t: Translator = english): View {
  return message(t("reply.working"));
}
