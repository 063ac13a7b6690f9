import { TestumError, UsageError } from "../errors.js";
import { msg, type Message } from "../chat/i18n.js";

/**
 * A runbook's command template: shell text with typed parameters written
 * `{name}` or `{name:type}`. Parameters are validated against their type
 * and substituted as single shell words (single-quoted when they hold
 * anything but plain characters), never spliced in raw.
 *
 * Types: `str` (the default; any text up to 1000 characters that does not
 * start with `-`), `enum(a,b,c)`, `int`, `int(MIN..MAX)` and `path`.
 *
 * Quoting protects one POSIX shell word (sh, bash, dash, zsh). A template
 * must therefore not hand a parameter to a second round of shell reading
 * (`eval`, `sh -c`, `ssh host …`, `let`, `[[ … -eq … ]]`): testum refuses
 * parameters inside quotes, inside `$(( ))`/`(( ))` (unless `int`) and
 * in templates with a heredoc, and the README says what it cannot see.
 */
export type ParamType =
  | { readonly kind: "str" }
  | { readonly kind: "enum"; readonly values: readonly string[] }
  | { readonly kind: "int"; readonly min?: number | undefined; readonly max?: number | undefined }
  | { readonly kind: "path" };

export interface ParamSpec {
  readonly name: string;
  readonly type: ParamType;
}

export interface Template {
  readonly text: string;
  /** Literal text and parameter references, in order. */
  readonly parts: ReadonlyArray<string | { readonly param: string }>;
  /** Each parameter once, in order of first use. */
  readonly params: readonly ParamSpec[];
}

/** Longest `str` value. */
export const MAX_STR_PARAM = 1000;
/** Longest `path` value. */
export const MAX_PATH_PARAM = 4096;
export const MAX_TEMPLATE_CHARS = 4000;

const PARAM_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const ENUM_VALUE = /^[A-Za-z0-9._+@:-]{1,64}$/;
const PATH_VALUE = /^[A-Za-z0-9_./@%+=:,~-]+$/;
/** Characters a shell reads as themselves: a value made only of them needs no quotes. */
const BARE = /^[A-Za-z0-9_./@%+:,-]+$/;

const bad = (problem: Message) => new TestumError("invalid_input", problem);

/** `enum(nginx,postgres)`, `int(1..1000)`, `path`, `str`. */
function parseType(param: string, text: string | undefined): ParamType {
  if (text === undefined || text === "str") return { kind: "str" };
  if (text === "path") return { kind: "path" };
  if (text === "int") return { kind: "int" };
  const enumMatch = /^enum\(([^()]*)\)$/.exec(text);
  if (enumMatch) {
    const values = enumMatch[1]!.split(",").map((v) => v.trim());
    if (values.length === 0 || values.some((v) => !ENUM_VALUE.test(v))) throw bad(msg("runbook.template.bad_enum", { param, spec: text }));
    if (new Set(values).size !== values.length) throw bad(msg("runbook.template.bad_enum", { param, spec: text }));
    return { kind: "enum", values };
  }
  const intMatch = /^int\((-?\d{1,15})?\.\.(-?\d{1,15})?\)$/.exec(text);
  if (intMatch) {
    const min = intMatch[1] === undefined ? undefined : Number(intMatch[1]);
    const max = intMatch[2] === undefined ? undefined : Number(intMatch[2]);
    if (min !== undefined && max !== undefined && min > max) throw bad(msg("runbook.template.bad_range", { param, spec: text }));
    return { kind: "int", min, max };
  }
  throw bad(msg("runbook.template.bad_type", { param, spec: text }));
}

/** How a type is written in a template (the inverse of parseType). */
export function typeText(type: ParamType): string {
  switch (type.kind) {
    case "str":
    case "path":
      return type.kind;
    case "enum":
      return `enum(${type.values.join(",")})`;
    case "int":
      return type.min === undefined && type.max === undefined ? "int" : `int(${type.min ?? ""}..${type.max ?? ""})`;
  }
}

/** What a value of the type must look like, to be said in a message. */
export function expectation(type: ParamType): Message {
  switch (type.kind) {
    case "str":
      return msg("runbook.expect.str", { max: MAX_STR_PARAM });
    case "path":
      return msg("runbook.expect.path");
    case "enum":
      return msg("runbook.expect.enum", { values: type.values.join(", ") });
    case "int":
      if (type.min !== undefined && type.max !== undefined) return msg("runbook.expect.int_range", { min: type.min, max: type.max });
      if (type.min !== undefined) return msg("runbook.expect.int_min", { min: type.min });
      if (type.max !== undefined) return msg("runbook.expect.int_max", { max: type.max });
      return msg("runbook.expect.int");
  }
}

/** `{name}` or `{name:type}` at `at`, or undefined when the brace starts no parameter. */
function placeholderAt(text: string, at: number): { name: string; type: string | undefined; end: number } | undefined {
  const match = /^\{([a-z][a-z0-9_]*)(?::((?:[^{}()]|\([^()]*\))*))?\}/.exec(text.slice(at, at + 1200));
  if (!match) return undefined;
  return { name: match[1]!, type: match[2], end: at + match[0].length };
}

/**
 * Reads a template. Throws a TestumError that names the problem: a
 * malformed type, a parameter declared twice with different types, a
 * parameter inside quotes, inside arithmetic, or in a template with a
 * heredoc.
 */
export function parseTemplate(text: string): Template {
  if (text.trim() === "") throw bad(msg("runbook.template.empty"));
  if (text.length > MAX_TEMPLATE_CHARS) throw bad(msg("runbook.template.too_long", { max: MAX_TEMPLATE_CHARS }));
  const parts: Array<string | { param: string }> = [];
  /** Names in order of first use; the type written with one of them (str when none is). */
  const names: string[] = [];
  const typed = new Map<string, ParamType>();
  let literal = "";
  let quote: "'" | '"' | undefined;
  /** Depth of `$((`/`((` arithmetic, where quotes do not protect. */
  let arithmetic = 0;
  let heredoc = false;
  const inQuotes: Array<{ name: string; typed: boolean }> = [];
  const inArithmetic: string[] = [];

  for (let i = 0; i < text.length; ) {
    const ch = text[i]!;
    if (quote !== undefined) {
      if (quote === '"' && ch === "\\" && i + 1 < text.length) {
        literal += text.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (ch === quote) quote = undefined;
      else if (ch === "{") {
        const p = placeholderAt(text, i);
        // In double quotes anything shaped like a parameter is refused; in single quotes (awk '{print}') only real ones.
        if (p) inQuotes.push({ name: p.name, typed: p.type !== undefined || quote === '"' });
      }
      literal += ch;
      i++;
      continue;
    }
    if (ch === "\\" && i + 1 < text.length) {
      literal += text.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      literal += ch;
      i++;
      continue;
    }
    const token = text.startsWith("<<<", i) ? "<<<" : text.startsWith("((", i) ? "((" : arithmetic > 0 && text.startsWith("))", i) ? "))" : undefined;
    if (token !== undefined) {
      if (token === "((") arithmetic++;
      if (token === "))") arithmetic--;
      literal += token;
      i += token.length;
      continue;
    }
    if (text.startsWith("<<", i)) heredoc = true;
    // `${VAR}` is the shell's own.
    const p = ch === "{" && text[i - 1] !== "$" ? placeholderAt(text, i) : undefined;
    if (!p) {
      literal += ch;
      i++;
      continue;
    }
    if (!PARAM_NAME.test(p.name)) throw bad(msg("runbook.template.bad_name", { param: p.name }));
    if (!names.includes(p.name)) names.push(p.name);
    if (p.type !== undefined) {
      const type = parseType(p.name, p.type);
      const earlier = typed.get(p.name);
      if (earlier !== undefined && typeText(earlier) !== typeText(type)) {
        throw bad(msg("runbook.template.two_types", { param: p.name, first: typeText(earlier), second: typeText(type) }));
      }
      typed.set(p.name, type);
    }
    if (arithmetic > 0) inArithmetic.push(p.name);
    if (literal) parts.push(literal);
    literal = "";
    parts.push({ param: p.name });
    i = p.end;
  }
  if (literal) parts.push(literal);
  if (quote !== undefined) throw bad(msg("runbook.template.unclosed_quote", { quote }));
  const params = names.map((name) => ({ name, type: typed.get(name) ?? ({ kind: "str" } as const) }));
  // Inside quotes a quoted value's own quotes would be text, and `$(…)` in double quotes would run.
  const quoted = inQuotes.find((q) => q.typed || names.includes(q.name));
  if (quoted) throw bad(msg("runbook.template.in_quotes", { param: quoted.name }));
  const arithmeticParam = inArithmetic.find((name) => typed.get(name)?.kind !== "int");
  if (arithmeticParam) throw bad(msg("runbook.template.in_arithmetic", { param: arithmeticParam }));
  if (heredoc && params.length > 0) throw bad(msg("runbook.template.heredoc"));
  return { text, parts, params };
}

/** One shell word holding exactly `value`. */
export function shellQuote(value: string): string {
  if (BARE.test(value) && !value.startsWith("-")) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Checks one value against its type; the error names the parameter, the value and what was expected. */
export function checkValue(runbook: string, spec: ParamSpec, value: string): string {
  const fail = (): never => {
    throw new UsageError(msg("runbook.param.bad_value", { runbook, param: spec.name, value: shown(value), expected: expectation(spec.type) }));
  };
  const { type } = spec;
  switch (type.kind) {
    case "str":
      if (value.length > MAX_STR_PARAM || value.startsWith("-")) fail();
      return value;
    case "path":
      if (value === "" || value.length > MAX_PATH_PARAM || value.startsWith("-") || !PATH_VALUE.test(value) || value.split("/").includes("..")) fail();
      return value;
    case "enum":
      if (!type.values.includes(value)) fail();
      return value;
    case "int": {
      if (!/^-?\d{1,15}$/.test(value)) fail();
      const n = Number(value);
      if ((type.min !== undefined && n < type.min) || (type.max !== undefined && n > type.max)) fail();
      return String(n);
    }
  }
}

/** A value as a message shows it: on one line, at most 60 characters. */
function shown(value: string): string {
  const one = JSON.stringify(value);
  return one.length > 62 ? `${one.slice(0, 59)}…"` : one;
}

/** `key=value` words → values by name; the error names a word that is not one. */
export function parseParamWords(words: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const word of words) {
    const eq = word.indexOf("=");
    const key = eq === -1 ? "" : word.slice(0, eq);
    if (!PARAM_NAME.test(key)) throw new UsageError(msg("runbook.param.not_pair", { word: shown(word) }));
    if (key in values) throw new UsageError(msg("runbook.param.twice", { param: key }));
    values[key] = word.slice(eq + 1);
  }
  return values;
}

/**
 * The command a runbook runs with these values: every parameter given,
 * none unknown, each valid for its type and quoted as one shell word.
 */
export function renderTemplate(runbook: string, template: Template, values: Readonly<Record<string, string>>): string {
  const known = new Map(template.params.map((p) => [p.name, p]));
  const takes = template.params.map((p) => `${p.name} (${typeText(p.type)})`).join(", ") || "—";
  for (const name of Object.keys(values)) {
    if (!known.has(name)) throw new UsageError(msg("runbook.param.unknown", { runbook, param: name, takes }));
  }
  const missing = template.params.filter((p) => values[p.name] === undefined);
  if (missing.length > 0) {
    const first = missing[0]!;
    throw new UsageError(msg("runbook.param.missing", { runbook, param: first.name, expected: expectation(first.type), takes }));
  }
  const checked = new Map(template.params.map((p) => [p.name, shellQuote(checkValue(runbook, p, values[p.name]!))]));
  return template.parts.map((part) => (typeof part === "string" ? part : checked.get(part.param)!)).join("");
}
