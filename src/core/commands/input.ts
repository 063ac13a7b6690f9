import { UsageError } from "../errors.js";
import { msg } from "../chat/i18n.js";

/**
 * Checks every text a person sends before anything reads, stores or audits
 * it: Postgres cannot store NUL or a lone UTF-16 surrogate (so they would
 * fail halfway through a request), and a shell could not be given them.
 */

/** Longest command text accepted (platforms send less; forms for scripts have their own limit). */
export const MAX_COMMAND_CHARS = 20_000;
/** Longest form field accepted. */
export const MAX_FORM_CHARS = 200_000;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Throws a UsageError naming what is wrong with `text`, if anything. */
export function screenText(text: string, max: number): void {
  if (text.length > max) throw new UsageError(msg("input.too_long", { length: text.length, max }));
  if (text.includes("\0")) throw new UsageError(msg("input.nul"));
  if (LONE_SURROGATE.test(text)) throw new UsageError(msg("input.not_unicode"));
}

/** The same text with what cannot be stored replaced by U+FFFD (for names the platform tells, not commands). */
export function storable(text: string): string {
  return text.replace(/\0/g, "\uFFFD").replace(new RegExp(LONE_SURROGATE.source, "g"), "\uFFFD");
}
