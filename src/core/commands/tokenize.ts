import { UsageError } from "../errors.js";
import { msg } from "../chat/i18n.js";

export interface Token {
  readonly value: string;
  /** Offsets of the token in the input, quotes included. */
  readonly start: number;
  readonly end: number;
  readonly quoted: boolean;
}

/** Chat clients turn straight quotes into typographic ones; treat them alike. */
const OPENING: Record<string, string> = { "'": "'", '"': '"', "\u2018": "\u2019", "\u201c": "\u201d" };
const CLOSERS: Record<string, string[]> = {
  "'": ["'"],
  '"': ['"'],
  "\u2019": ["\u2019", "'"],
  "\u201d": ["\u201d", '"'],
};

/**
 * Splits command text into words the way a shell would: single quotes keep
 * everything literal, double quotes allow `\"`, a backslash escapes the next
 * character outside quotes. Typographic quotes count as quotes.
 */
export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    while (i < input.length && /\s/.test(input[i]!)) i++;
    if (i >= input.length) break;
    const start = i;
    let value = "";
    let quoted = false;
    while (i < input.length && !/\s/.test(input[i]!)) {
      const ch = input[i]!;
      const close = OPENING[ch];
      if (close !== undefined) {
        quoted = true;
        const closers = CLOSERS[close]!;
        i++;
        let closed = false;
        while (i < input.length) {
          const c = input[i]!;
          if (closers.includes(c)) {
            closed = true;
            i++;
            break;
          }
          if (c === "\\" && ch === '"' && i + 1 < input.length) {
            value += input[i + 1];
            i += 2;
            continue;
          }
          value += c;
          i++;
        }
        if (!closed) throw new UsageError(msg("usage.unterminated_quote", { quote: ch, start: input.slice(start, start + 20) }));
        continue;
      }
      if (ch === "\\" && i + 1 < input.length) {
        value += input[i + 1];
        i += 2;
        continue;
      }
      value += ch;
      i++;
    }
    tokens.push({ value, start, end: i, quoted });
  }
  return tokens;
}

/**
 * The raw text from a token on, for arguments that are themselves commands.
 * When the remainder is one quoted word (`'df -h'`), it is unquoted as a shell
 * would; otherwise it is kept exactly, inner quoting included, for the remote
 * shell to read.
 */
export function remainder(input: string, from: Token): string {
  const raw = input.slice(from.start).trim();
  const words = tokenize(raw);
  if (words.length === 1 && words[0]!.quoted) return words[0]!.value;
  return raw;
}
