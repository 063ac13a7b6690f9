import { StringDecoder } from "node:string_decoder";

/** ANSI CSI sequences (colours, cursor moves) and OSC sequences (titles, links). */
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;
/** C0 and C1 control characters except tab; newlines are handled separately. */
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/g;
/**
 * Bidirectional controls (embeddings, overrides, isolates, marks): they
 * reorder how text around them is shown, so `evil‮txt.exe` can read as
 * something else. Shown as their code point instead.
 */
const BIDI = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Makes bidirectional control characters visible as `[U+202E]`: they never reach chat as controls. */
export function showBidi(text: string): string {
  return text.replace(BIDI, (c) => `[U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}]`);
}

/**
 * Breaks every run of backticks with a zero-width space, so no run of three
 * or more is left to open or close a code fence (a single pass over runs of
 * three would leave four as backtick, space, three).
 */
export function breakBackticks(text: string): string {
  return text.replace(/`(?=`)/g, "`\u200b");
}

/** Longest line shown in chat; the log keeps the full line. */
export const MAX_LINE_CHARS = 200;

/** Makes one line of command output safe and readable in chat. */
export function sanitizeLine(raw: string): string {
  // A carriage return redraws the line (progress bars): keep what was drawn last.
  const lastSegment = raw.includes("\r") ? lastNonEmpty(raw.split("\r")) : raw;
  let line = showBidi(lastSegment.replace(ANSI, "").replace(CONTROL, "").replace(/\t/g, "    "));
  // A fence inside output must not close the code block it is shown in.
  line = breakBackticks(line);
  if (line.length > MAX_LINE_CHARS) line = line.slice(0, MAX_LINE_CHARS - 1) + "…";
  return line;
}

function lastNonEmpty(parts: string[]): string {
  for (let i = parts.length - 1; i >= 0; i--) if (parts[i] !== "") return parts[i]!;
  return "";
}

/**
 * Keeps the last lines of a stream of output, sanitised, in bounded memory.
 * Feed it raw chunks as they arrive; multi-byte characters split across
 * chunks are decoded correctly.
 */
export class TailBuffer {
  private readonly decoder = new StringDecoder("utf8");
  private readonly lines: string[] = [];
  private partial = "";
  private dropped = 0;
  private total = 0;

  constructor(private readonly maxLines = 200) {}

  push(chunk: Buffer | string): void {
    const text = typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop() ?? "";
    // An unterminated line can grow without bound (binary output, progress bars): cap it.
    if (this.partial.length > MAX_LINE_CHARS * 4) this.partial = this.partial.slice(-MAX_LINE_CHARS * 4);
    for (const part of parts) this.add(sanitizeLine(part));
  }

  private add(line: string): void {
    this.total += 1;
    this.lines.push(line);
    if (this.lines.length > this.maxLines) {
      this.lines.shift();
      this.dropped += 1;
    }
  }

  /** Lines seen so far, including an unterminated last line. */
  get lineCount(): number {
    return this.total + (this.partial === "" ? 0 : 1);
  }

  /** The kept tail, and how many earlier lines are not kept. */
  snapshot(): { lines: string[]; omitted: number } {
    const lines = [...this.lines];
    if (this.partial !== "") lines.push(sanitizeLine(this.partial));
    let omitted = this.dropped;
    if (lines.length > this.maxLines) {
      lines.shift();
      omitted += 1;
    }
    return { lines, omitted };
  }
}

/**
 * The last lines that fit in `maxChars` (joined with newlines), and how many
 * were left out. Lengths are UTF-16 code units, which is what both Slack and
 * Discord count.
 */
export function fitTail(lines: readonly string[], maxChars: number): { text: string; omitted: number } {
  let used = 0;
  let start = lines.length;
  while (start > 0) {
    const next = lines[start - 1]!.length + (start === lines.length ? 0 : 1);
    if (used + next > maxChars) break;
    used += next;
    start -= 1;
  }
  if (start === lines.length && lines.length > 0) {
    // Not even the last line fits whole: show its end.
    const last = lines[lines.length - 1]!;
    return { text: "…" + last.slice(last.length - (maxChars - 1)), omitted: lines.length - 1 };
  }
  return { text: lines.slice(start).join("\n"), omitted: start };
}

/** Cuts plain text to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  // Never keep half of a surrogate pair.
  if (end > 0 && /[\uD800-\uDBFF]/.test(text[end - 1]!)) end -= 1;
  return text.slice(0, end) + "…";
}
