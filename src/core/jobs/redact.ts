import { TestumError } from "../errors.js";
import { msg } from "../chat/i18n.js";

/**
 * What redaction looks for in command output, compiled into one regular
 * expression. Output is matched as Latin-1 text (one character per byte), so
 * a match never depends on where a UTF-8 character was cut, and bytes that
 * are not redacted go on exactly as they came. Every built-in shape is
 * ASCII, matches within one line (no `\s` that could take a line break) and
 * has no nested quantifiers, so matching stays linear in the text's length.
 */

/** A shape of secret: found by `source`; when `keep` is set, its first group is kept and only the rest replaced. */
export interface Detector {
  readonly name: string;
  readonly source: string;
  readonly keep?: boolean;
}

/** A pattern an admin added (`/testum redact add NAME 'REGEX'`). */
export interface RedactionPattern {
  readonly name: string;
  readonly pattern: string;
}

/** `password` → `[Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]`: case-insensitive words inside a case-sensitive expression. */
function anyCase(word: string): string {
  return [...word].map((c) => (/[a-z]/i.test(c) ? `[${c.toUpperCase()}${c.toLowerCase()}]` : c === "_" ? "[_-]?" : c)).join("");
}

/** Words that make `WORD=value` / `WORD: value` a secret, with anything around them (`DB_PASSWORD`, `client_secret`). */
const SECRET_WORDS = ["password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "apikey", "access_key", "private_key", "credentials"];

const TOKEN = "A-Za-z0-9_-";

/** The built-in shapes, in the order they are tried at one position. */
export const BUILTIN_DETECTORS: readonly Detector[] = [
  // A key block on one line (JSON-escaped `\n`, or a one-line dump); blocks over several lines are followed line by line (redact-stream.ts).
  { name: "private_key", source: "-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[^\\n\\r]*?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----" },
  { name: "aws_access_key", source: "(?:AKIA|ASIA)[0-9A-Z]{16}" },
  { name: "github_token", source: "(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})" },
  { name: "gitlab_token", source: `glpat-[${TOKEN}]{20,255}` },
  { name: "slack_token", source: "(?:xox[abprs]-[A-Za-z0-9-]{10,255}|xapp-[0-9]-[A-Za-z0-9-]{10,255})" },
  { name: "jwt", source: `eyJ[${TOKEN}]{4,}\\.eyJ[${TOKEN}]{4,}\\.[${TOKEN}]*` },
  { name: "discord_token", source: `[MNO][${TOKEN}]{23,27}\\.[${TOKEN}]{6}\\.[${TOKEN}]{27,40}` },
  // scheme://user:PASSWORD@host: the password goes, the user and host stay.
  { name: "url_password", source: "(:\\/\\/[^\\s:/@]{0,256}:)[^\\s/@]{1,256}(?=@)", keep: true },
  { name: "bearer", source: "([Bb]earer[ \\t]{1,4})[A-Za-z0-9._~+/=-]{8,}", keep: true },
  {
    name: "secret",
    // WORD…=value, WORD…: value, "WORD": "value"; the value is a quoted string or a run up to a space or separator.
    // `PWD=/path` (and OLDPWD) in `env` output is the working directory, not a password.
    source: `((?:${SECRET_WORDS.map((w) => (w === "pwd" ? `${anyCase(w)}(?!=/)` : anyCase(w))).join("|")})[A-Za-z0-9_.-]{0,40}["']?[ \\t]{0,4}[=:][ \\t]{0,4})(?!["']?\\[redacted:)(?:"[^"\\n\\r]+"|'[^'\\n\\r]+'|[^\\s"',;&]+)`,
    keep: true,
  },
];

/** The assignments' detector: its pass runs after the others. */
const ASSIGNMENT = BUILTIN_DETECTORS.find((d) => d.name === "secret")!;

/** The start of a key block: from here to its END line, nothing is shown. */
export const PEM_BEGIN = /-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;
export const PEM_END = /-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;

/** Names the built-ins use, and those of the host's own secrets; admin patterns take other names. */
export const RESERVED_NAMES: readonly string[] = [...BUILTIN_DETECTORS.map((d) => d.name), "host_password", "host_passphrase"];

/** Shortest host secret redacted as it is: hiding a shorter one would show where that text occurs anywhere in the output. */
export const MIN_LITERAL_BYTES = 4;

/** Longest admin pattern; a name is a short word. */
export const MAX_PATTERN_CHARS = 300;
export const NAME_RE = /^[a-z][a-z0-9_-]{0,31}$/;

/** A quantifier that repeats without bound: `*`, `+`, `{n,}`. */
const UNBOUNDED = /^(?:[*+]|\{\d+,\})/;
/** Any repetition: the unbounded ones, `?` and `{n,m}`. */
const ANY_QUANTIFIER = /^(?:[*+?]|\{\d+(?:,\d*)?\})/;

/**
 * Why a regular expression could take time that grows faster than its input
 * (catastrophic backtracking), undefined when it looks linear. A heuristic,
 * not a proof: it refuses a group that repeats without bound and holds a
 * repetition or an alternation (`(a+)+`, `(\w|\d)*`), and back-references.
 */
export function backtrackingRisk(source: string): "nested_quantifier" | "backreference" | undefined {
  // For each open group: whether it holds a quantifier or alternation.
  const stack: { risky: boolean }[] = [];
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") {
      const next = source[i + 1] ?? "";
      if (/[1-9]/.test(next) || (next === "k" && source[i + 2] === "<")) return "backreference";
      i += 1;
      continue;
    }
    if (c === "[") {
      // Skip the class: `]` right after `[` or `[^` is a literal.
      let j = i + 1;
      if (source[j] === "^") j++;
      if (source[j] === "]") j++;
      while (j < source.length && source[j] !== "]") j += source[j] === "\\" ? 2 : 1;
      i = j;
      const q = ANY_QUANTIFIER.exec(source.slice(i + 1));
      if (q && stack.length > 0 && /[*+{]/.test(q[0])) stack[stack.length - 1]!.risky = true;
      continue;
    }
    if (c === "(") {
      stack.push({ risky: false });
      continue;
    }
    if (c === "|" && stack.length > 0) {
      stack[stack.length - 1]!.risky = true;
      continue;
    }
    if (c === ")") {
      const group = stack.pop();
      const after = source.slice(i + 1);
      if (group?.risky && UNBOUNDED.test(after)) return "nested_quantifier";
      // What a group holds makes the group around it risky when this one repeats.
      if (stack.length > 0 && (group?.risky || ANY_QUANTIFIER.test(after))) stack[stack.length - 1]!.risky = true;
      continue;
    }
    if (stack.length > 0 && /[*+{]/.test(c) && ANY_QUANTIFIER.test(source.slice(i))) stack[stack.length - 1]!.risky = true;
  }
  return undefined;
}

/**
 * Checks an admin's pattern before it is stored, with a message that says
 * what is wrong and what to write instead. Patterns are compiled as they
 * are, case-sensitive, and match within one line.
 */
export function checkRedactionPattern(name: string, pattern: string): RegExp {
  if (!NAME_RE.test(name)) throw new TestumError("invalid_input", msg("redact.bad_name", { name }));
  if (RESERVED_NAMES.includes(name)) throw new TestumError("invalid_input", msg("redact.reserved_name", { name }));
  if (pattern.length === 0) throw new TestumError("invalid_input", msg("redact.empty_pattern"));
  if (pattern.length > MAX_PATTERN_CHARS) throw new TestumError("invalid_input", msg("redact.too_long", { length: pattern.length, max: MAX_PATTERN_CHARS }));
  // Output is matched byte by byte as Latin-1: a non-ASCII character in a pattern would never match its UTF-8 bytes.
  if (/[^\x20-\x7e]/.test(pattern)) throw new TestumError("invalid_input", msg("redact.not_ascii"));
  let re: RegExp;
  try {
    re = new RegExp(pattern, "g");
  } catch (err) {
    throw new TestumError("invalid_input", msg("redact.bad_regex", { pattern, problem: (err as Error).message }));
  }
  const risk = backtrackingRisk(pattern);
  if (risk) throw new TestumError("invalid_input", msg(risk === "backreference" ? "redact.backreference" : "redact.nested_quantifier", { pattern }));
  // A pattern that matches nothing at all would redact between every two characters, or loop.
  if (new RegExp(`^(?:${pattern})`).test("") || new RegExp(pattern).exec("x\n")?.[0] === "") {
    throw new TestumError("invalid_input", msg("redact.matches_empty", { pattern }));
  }
  return re;
}

function escapeLiteral(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** One expression over several detectors and, for each, its group number, name and whether a prefix is kept. */
export interface RedactionPass {
  readonly regex: RegExp;
  readonly groups: readonly { readonly index: number; readonly name: string; readonly keep: boolean }[];
}

/**
 * One compiled rule set, as passes run one after the other over the text:
 * first the token shapes and host secrets, then the assignments (whose value
 * may already be a mark, which they leave alone, so `GITHUB_TOKEN=ghp_…`
 * reads `[redacted:github_token]`), then the admin patterns. Separate
 * expressions run faster than one holding all: V8 checks the alternatives
 * of one expression in turn at every position.
 */
export interface RedactionRules {
  /** The built-ins' and host secrets' passes: needed only where an anchor is. */
  readonly passes: readonly RedactionPass[];
  /** The admin patterns' pass, run over all output (any byte may start one of them); undefined when there are none. */
  readonly admin: RedactionPass | undefined;
  /**
   * Bytes that contain none of these cannot hold a match of a built-in or a
   * host secret, so `passes` need not look at them (searched with
   * Buffer#indexOf, no string made).
   */
  readonly anchors: readonly Buffer[];
  /** Length of the longest anchor. */
  readonly anchorBytes: number;
}

/** Number of capturing groups in `source`. */
function groupCount(source: string): number {
  return new RegExp(`${source}|`).exec("")!.length - 1;
}

/**
 * Substrings one of which every built-in match contains (a Discord token's
 * dots, an assignment's `=` or `:`, a URL's `:`), cheap to look for with
 * indexOf before any expression runs. redact.test.ts checks each shape alone.
 */
const BUILTIN_ANCHORS = ["-----BEGIN", "AKIA", "ASIA", "gh", "github_pat_", "glpat-", "xox", "xapp-", "eyJ", "earer", "=", ":", "."];

/**
 * Compiles the host's own secrets (literal text, e.g. its password), the
 * built-ins and the admin patterns into their passes; host secrets are tried
 * first, so they are named as such.
 */
export function compileRules(input: { readonly patterns?: readonly RedactionPattern[]; readonly literals?: readonly { name: string; value: string }[] } = {}): RedactionRules {
  const detectors: Detector[] = [];
  const anchors: string[] = [...BUILTIN_ANCHORS];
  for (const literal of input.literals ?? []) {
    const bytes = Buffer.from(literal.value, "utf8");
    if (bytes.length < MIN_LITERAL_BYTES) continue;
    const latin1 = bytes.toString("latin1");
    detectors.push({ name: literal.name, source: escapeLiteral(latin1) });
    anchors.push(latin1);
  }
  detectors.push(...BUILTIN_DETECTORS.filter((d) => d !== ASSIGNMENT));
  const patterns = input.patterns ?? [];
  return {
    passes: [compilePass(detectors), compilePass([ASSIGNMENT])],
    admin: patterns.length > 0 ? compilePass(patterns.map((p) => ({ name: p.name, source: p.pattern }))) : undefined,
    anchors: anchors.map((a) => Buffer.from(a, "latin1")),
    anchorBytes: Math.max(...anchors.map((a) => a.length)),
  };
}

function compilePass(detectors: readonly Detector[]): RedactionPass {
  const groups: { index: number; name: string; keep: boolean }[] = [];
  let next = 1;
  const parts = detectors.map((d) => {
    groups.push({ index: next, name: d.name, keep: d.keep === true });
    next += 1 + groupCount(d.source);
    return `(${d.source})`;
  });
  return { regex: new RegExp(parts.join("|"), "g"), groups };
}

/** The text that replaces a secret. */
export function redactedMark(name: string): string {
  return `[redacted:${name}]`;
}

/** Host secrets as the worker holds them once it has connected: the password, or the key's passphrase. */
export function hostSecrets(auth: { readonly password: string } | { readonly privateKey: string; readonly passphrase?: string | undefined }): { name: string; value: string }[] {
  if ("password" in auth) return [{ name: "host_password", value: auth.password }];
  return auth.passphrase ? [{ name: "host_passphrase", value: auth.passphrase }] : [];
}

/**
 * The rules of one job: its admin patterns with each host's own secrets.
 * Hosts without a secret of their own (most: key without passphrase) share
 * one compiled expression.
 */
export function createJobRules(patterns: readonly RedactionPattern[]): (literals: readonly { name: string; value: string }[]) => RedactionRules {
  const shared = compileRules({ patterns });
  return (literals) => (literals.every((l) => Buffer.byteLength(l.value) < MIN_LITERAL_BYTES) ? shared : compileRules({ patterns, literals }));
}
