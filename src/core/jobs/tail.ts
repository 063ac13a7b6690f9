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

/** Bytes of the stream's end a TailBuffer keeps: a few screens of lines, whatever the output's size. */
export const TAIL_WINDOW_BYTES = 16 * 1024;

/**
 * Keeps the end of a stream of output, in bounded memory and time: each
 * chunk costs a count of its newlines and a reference to it (the newest
 * `windowBytes` are held, earlier chunks dropped); lines are decoded and
 * sanitised only when a snapshot is asked for, from that window alone.
 */
export class TailBuffer {
  /** The newest chunks, from `head`; together at least `windowBytes` once that much arrived. */
  private chunks: Buffer[] = [];
  private head = 0;
  private held = 0;
  private bytes = 0;
  private newlines = 0;
  private endsWithNewline = false;
  private cached: { bytes: number; snapshot: { lines: string[]; omitted: number } } | undefined;

  constructor(
    private readonly maxLines = 200,
    private readonly windowBytes = TAIL_WINDOW_BYTES,
  ) {}

  push(chunk: Buffer | string): void {
    const b = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    if (b.length === 0) return;
    for (let at = b.indexOf(0x0a); at !== -1; at = b.indexOf(0x0a, at + 1)) this.newlines += 1;
    this.endsWithNewline = b[b.length - 1] === 0x0a;
    this.bytes += b.length;
    if (b.length >= this.windowBytes) {
      this.chunks = [b.subarray(b.length - this.windowBytes)];
      this.head = 0;
      this.held = this.windowBytes;
      return;
    }
    this.chunks.push(b);
    this.held += b.length;
    while (this.held - this.chunks[this.head]!.length >= this.windowBytes) this.held -= this.chunks[this.head++]!.length;
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  /** Lines seen so far, including an unterminated last line. */
  get lineCount(): number {
    return this.newlines + (this.bytes > 0 && !this.endsWithNewline ? 1 : 0);
  }

  /** The kept tail (at most `maxLines` sanitised lines), and how many earlier lines are not shown. */
  snapshot(): { lines: string[]; omitted: number } {
    if (this.cached?.bytes === this.bytes) return { lines: [...this.cached.snapshot.lines], omitted: this.cached.snapshot.omitted };
    let window = this.chunks.length - this.head === 1 ? this.chunks[this.head]! : Buffer.concat(this.chunks.slice(this.head));
    if (this.held < this.bytes) {
      // The window starts inside a line: drop that line's beginning, unless it is the only line.
      const newline = window.indexOf(0x0a);
      if (newline !== -1 && newline < window.length - 1) window = window.subarray(newline + 1);
      else window = window.subarray(utf8Start(window));
    }
    const parts = window.subarray(0, utf8End(window)).toString("utf8").split("\n");
    if (parts.at(-1) === "") parts.pop();
    const lines = parts.slice(-this.maxLines).map(sanitizeLine);
    const snapshot = { lines, omitted: Math.max(0, this.lineCount - lines.length) };
    this.cached = { bytes: this.bytes, snapshot };
    return { lines: [...lines], omitted: snapshot.omitted };
  }
}

/** Where the first whole UTF-8 character starts (a window may begin inside one). */
function utf8Start(b: Buffer): number {
  let at = 0;
  while (at < b.length && at < 4 && (b[at]! & 0xc0) === 0x80) at++;
  return at;
}

/** Length of `b` without an incomplete UTF-8 character at its end (its rest is still to come). */
function utf8End(b: Buffer): number {
  for (let back = 1; back <= Math.min(4, b.length); back++) {
    const byte = b[b.length - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? b.length - back : b.length;
  }
  return b.length;
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
