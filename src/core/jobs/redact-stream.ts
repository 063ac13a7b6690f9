import { PEM_BEGIN, PEM_END, redactedMark, type RedactionPass, type RedactionRules } from "./redact.js";

/** A line longer than this is not waited for: its start is redacted and released, all but the last OVERLAP_BYTES. */
export const MAX_HOLD_BYTES = 64 * 1024;
/** Kept back from a released long line: a secret that starts in the released part and is at most this long was seen whole. */
export const OVERLAP_BYTES = 8 * 1024;

/** A line inside a key block: base64, a `Proc-Type:`/`DEK-Info:` header, or blank. */
const PEM_BODY = /^(?:[A-Za-z0-9+/=]*|[A-Za-z-]+: [^\n]*)\s*$/;

/**
 * Redacts one stream of command output (a task's stdout, or its stderr) as
 * it arrives, so a secret split between two SSH packets is still caught.
 * Built-in shapes match within a line, so only complete lines are released:
 * everything up to the last line break (`\n`, or `\r` for a progress bar
 * that redraws its line) goes on at once, redacted; the unfinished line is
 * held until its break arrives, the stream ends, or it passes
 * MAX_HOLD_BYTES. A private key block is followed over its lines and shown
 * as one mark.
 *
 * Bytes go on as they came unless something in them was redacted: the
 * common case costs a search for the last line break and a few substring
 * searches, no copy.
 */
export class StreamRedactor {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private inKey = false;

  constructor(private readonly rules: RedactionRules) {}

  /** The output that can be released now, in order (possibly none). */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    let cut = chunk.lastIndexOf(0x0a);
    if (cut === -1) cut = chunk.lastIndexOf(0x0d);
    if (cut === -1) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      const released = this.heldBytes > MAX_HOLD_BYTES ? this.releaseLongLine() : EMPTY;
      return released.length > 0 ? [released] : [];
    }
    const lines = chunk.subarray(0, cut + 1);
    const held = this.heldBytes === 0 ? undefined : this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
    this.held = cut + 1 < chunk.length ? [chunk.subarray(cut + 1)] : [];
    this.heldBytes = chunk.length - cut - 1;
    if (!held) return [this.redact(lines)];
    // The held start of a line and the lines that complete it go on as two pieces when neither,
    // nor the few bytes around where they meet, has anything to look at: no copy of the chunk.
    const k = this.rules.anchorBytes - 1;
    const seam = Buffer.concat([held.subarray(Math.max(0, held.length - k)), lines.subarray(0, k)]);
    if (!this.rules.admin && this.plain(held) && this.plain(lines) && this.plain(seam)) return [held, lines];
    return [this.redact(Buffer.concat([held, lines]))];
  }

  /** The rest, once the stream has ended. */
  end(): Buffer[] {
    const rest = this.heldBytes === 0 ? EMPTY : Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    return rest.length === 0 ? [] : [this.redact(rest)];
  }

  /** True when `bytes` hold none of the anchors, so no built-in or host secret can be in them. */
  private plain(bytes: Buffer): boolean {
    return !this.inKey && !this.rules.anchors.some((a) => bytes.indexOf(a) !== -1);
  }

  /** Redacts complete lines; the same bytes when nothing in them is secret. */
  private redact(bytes: Buffer): Buffer {
    if (bytes.length === 0) return bytes;
    const builtins = !this.plain(bytes);
    if (!builtins && !this.rules.admin) return bytes;
    const text = bytes.toString("latin1");
    let out = text;
    if (builtins) {
      if (this.inKey || out.includes("-----BEGIN")) out = this.hideKeyBlocks(out);
      for (const pass of this.rules.passes) out = replacePass(out, pass);
    }
    if (this.rules.admin) out = replacePass(out, this.rules.admin);
    return out === text ? bytes : Buffer.from(out, "latin1");
  }

  /**
   * Replaces each private key block (BEGIN line to END line) by one mark.
   * A block whose lines stop looking like a key before its END line ends
   * there: what follows is shown.
   */
  private hideKeyBlocks(text: string): string {
    let out = "";
    let at = 0;
    while (at < text.length) {
      if (!this.inKey) {
        PEM_BEGIN.lastIndex = at;
        const begin = PEM_BEGIN.exec(text);
        if (!begin) break;
        out += text.slice(at, begin.index) + redactedMark("private_key");
        this.inKey = true;
        at = begin.index + begin[0].length;
        // The rest of the BEGIN line (JSON keeps a whole key on one line with `\n` escapes).
        at = this.skipKeyLine(text, at, true);
        continue;
      }
      const next = this.skipKeyLine(text, at, false);
      // A line that is neither key text nor its END: the block was cut short, and this line is shown.
      if (next === at) this.inKey = false;
      at = next;
    }
    return out + text.slice(at);
  }

  /** Past the END marker if this line has one (and leaves the key), or past the line when it is key text; otherwise `at`. */
  private skipKeyLine(text: string, at: number, beginLine: boolean): number {
    const lineEnd = nextBreak(text, at);
    PEM_END.lastIndex = at;
    const end = PEM_END.exec(text);
    if (end && end.index < lineEnd) {
      this.inKey = false;
      return end.index + end[0].length;
    }
    if (beginLine || PEM_BODY.test(text.slice(at, lineEnd))) return lineEnd;
    return at;
  }

  /**
   * A line over MAX_HOLD_BYTES: its start is released, redacted, up to
   * OVERLAP_BYTES from its end, or up to the start of a match that reaches
   * past there (it may go on in the next chunk).
   */
  private releaseLongLine(): Buffer {
    const bytes = Buffer.concat(this.held);
    const text = bytes.toString("latin1");
    let cut = text.length - OVERLAP_BYTES;
    for (const { regex } of [...this.rules.passes, ...(this.rules.admin ? [this.rules.admin] : [])]) {
      const limit = cut;
      regex.lastIndex = 0;
      for (let m = regex.exec(text); m; m = regex.exec(text)) {
        if (m.index + m[0].length >= limit) {
          // A match that covers nearly the whole line is released redacted rather than held forever.
          if (m.index > 0) cut = Math.min(cut, m.index);
          break;
        }
      }
    }
    const begin = text.lastIndexOf("-----BEGIN", cut);
    if (begin !== -1 && begin > cut - 64) cut = begin;
    this.held = [bytes.subarray(cut)];
    this.heldBytes = bytes.length - cut;
    return this.redact(bytes.subarray(0, cut));
  }
}

const EMPTY = Buffer.alloc(0);

/** Where the line that starts at `at` ends, its break included. */
function nextBreak(text: string, at: number): number {
  const nl = text.indexOf("\n", at);
  return nl === -1 ? text.length : nl + 1;
}

/** Every match replaced by its mark (after the kept prefix, for assignments and URLs). */
function replacePass(text: string, pass: RedactionPass): string {
  const { regex, groups } = pass;
  regex.lastIndex = 0;
  let out = "";
  let last = 0;
  for (let m = regex.exec(text); m; m = regex.exec(text)) {
    if (m[0].length === 0) {
      regex.lastIndex += 1;
      continue;
    }
    const group = groups.find((g) => m[g.index] !== undefined);
    if (!group) continue;
    const kept = group.keep ? (m[group.index + 1] ?? "") : "";
    const value = m[0].slice(kept.length);
    const quote = value.length > 1 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0] ? value[0] : "";
    out += text.slice(last, m.index) + kept + quote + redactedMark(group.name) + quote;
    last = m.index + m[0].length;
  }
  return last === 0 ? text : out + text.slice(last);
}
