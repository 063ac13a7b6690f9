import { parseDuration } from "../duration.js";
import { UsageError } from "../errors.js";
import { CATALOGUES, msg, type Message, type MessageKey, type Translator } from "../chat/i18n.js";
import { remainder, tokenize, type Token } from "./tokenize.js";

/**
 * The machinery of the command grammar: a command is described once by a
 * spec, and that one description parses chat text, parses typed options
 * (Discord), registers application commands and writes help.
 */
export type ArgKind =
  /** A host name: 1–63 of a-z 0-9 - . _ */
  | "host"
  /** A host selector: names, globs, tag=value, all. */
  | "target"
  /** One word. */
  | "word"
  /** One whole number. */
  | "int"
  /** A user or group: a mention, or an identity such as slack:T0123:U0456. */
  | "subject"
  /** Everything after, verbatim (a shell command). */
  | "rest"
  /** The remaining words, as a list. */
  | "list"
  /** The remaining `key=value` words, as a list; options may stand among them. */
  | "pairs";

export interface ArgSpec {
  readonly name: string;
  readonly kind: ArgKind;
  /** In English (Discord registers it as is). */
  readonly description: string;
  /** The description's catalogue key, for help in the user's language. */
  readonly descriptionKey?: MessageKey;
  readonly optional?: boolean;
  /** Offer completions where the platform can: hosts, runbook names, or a runbook's parameters. */
  readonly complete?: Completion;
}

/** What completions draw on: the host registry, the runbooks, or the parameters of the runbook named in option `runbook`. */
export type Completion = "host" | "target" | "runbook" | "params";

export type FlagKind = "duration" | "int" | "boolean" | "word";

export interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  readonly description: string;
  readonly descriptionKey?: MessageKey;
  readonly min?: number;
  readonly max?: number;
  /** Longest value accepted (word options). */
  readonly maxLength?: number;
  /** The only values accepted (word options). */
  readonly choices?: readonly string[];
}

export type Values = Record<string, string | number | boolean | string[] | undefined>;

export interface CommandSpec<C> {
  /** Words that select the command: `["hosts", "add"]`. */
  readonly path: readonly string[];
  /** In English (Discord registers it as is). */
  readonly summary: string;
  /** The summary's catalogue key, for help in the user's language. */
  readonly summaryKey?: MessageKey;
  readonly args: readonly ArgSpec[];
  readonly flags?: readonly FlagSpec[];
  /** Example shown in help. */
  readonly example?: string;
  /** Turns validated raw values into the typed command; throws UsageError. */
  readonly build: (values: Values) => C;
}

export const HOST_NAME = /^[a-z0-9._-]{1,63}$/;

/** An argument's or option's description in the language of `t`. */
export function describeArg(spec: Pick<ArgSpec, "description" | "descriptionKey">, t: Translator): string {
  return spec.descriptionKey ? t(spec.descriptionKey) : spec.description;
}

/** The description as a message parameter: said in the reader's language where the catalogue has it. */
function descriptionOf(spec: Pick<ArgSpec, "description" | "descriptionKey">): string | Message {
  return spec.descriptionKey ? msg(spec.descriptionKey) : spec.description;
}

/** What an option's value is called in usage lines: its kind for durations and numbers, its own name for words. */
function flagValue(f: FlagSpec): string {
  if (f.kind === "duration") return "DURATION";
  if (f.kind === "int") return "N";
  return f.name.toUpperCase();
}

/**
 * A usage line in the reader's language: its placeholders (TARGET, DURATION,
 * KEY=VALUE …) said as the catalogue says them (`meta.target`); command words,
 * options and examples stay as typed.
 */
export function localUsage(line: string, t: Translator): string {
  if (t.lang === "en") return line;
  return line.replace(/\b[A-Z][A-Z]*(=VALUE)?\b/g, (word) => {
    const key = `meta.${word.toLowerCase().replace("=", "_")}`;
    return key in CATALOGUES.en ? t(key as MessageKey) : word;
  });
}

/** A command's words and arguments, without its options: `/testum run TARGET 'COMMAND'`. */
export function shortUsageOf(spec: CommandSpec<unknown>): string {
  const args = spec.args.map((a) => {
    const label = a.kind === "rest" ? `'${a.name.toUpperCase()}'` : a.kind === "list" ? `${a.name.toUpperCase()}…` : a.kind === "pairs" ? "KEY=VALUE…" : a.name.toUpperCase();
    return a.optional ? `[${label}]` : label;
  });
  return ["/testum", ...spec.path, ...args].join(" ");
}

/** The full usage line: the command, its arguments, then its options (which may also come first). */
export function usageOf(spec: CommandSpec<unknown>): string {
  const flags = (spec.flags ?? []).map((f) => (f.kind === "boolean" ? `[--${f.name}]` : `[--${f.name} ${flagValue(f)}]`));
  return [shortUsageOf(spec), ...flags].join(" ");
}

function convertArg(spec: CommandSpec<unknown>, arg: ArgSpec, value: string): string | number {
  switch (arg.kind) {
    case "host":
      if (!HOST_NAME.test(value)) {
        throw new UsageError(msg("error.invalid_host_name", { name: value }), usageOf(spec));
      }
      return value;
    case "int": {
      if (!/^-?\d+$/.test(value)) throw new UsageError(msg("usage.not_whole_number", { name: arg.name, value: value.slice(0, 40) }), usageOf(spec));
      // Ids: positive, and exact as a JavaScript number (Postgres bigint goes further; ids never do).
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 1) {
        throw new UsageError(msg("usage.int_out_of_range", { name: arg.name, value: value.slice(0, 40), max: String(Number.MAX_SAFE_INTEGER) }), usageOf(spec));
      }
      return n;
    }
    default:
      if (value.trim() === "") throw new UsageError(msg("usage.empty", { name: arg.name }), usageOf(spec));
      return value;
  }
}

function convertFlag(spec: CommandSpec<unknown>, flag: FlagSpec, value: string | number | boolean): string | number | boolean {
  const fail = (expected: Message): never => {
    throw new UsageError(msg("usage.flag_expects", { flag: flag.name, expected, value: String(value) }), usageOf(spec));
  };
  switch (flag.kind) {
    case "boolean":
      if (typeof value === "boolean") return value;
      return fail(msg("usage.expect.no_value"));
    case "duration": {
      const ms = typeof value === "string" ? parseDuration(value) : undefined;
      if (ms === undefined) return fail(msg("usage.expect.duration"));
      if (flag.min !== undefined && ms < flag.min) return fail(msg("usage.expect.seconds_at_least", { seconds: flag.min / 1000 }));
      if (flag.max !== undefined && ms > flag.max) return fail(msg("usage.expect.seconds_at_most", { seconds: flag.max / 1000 }));
      return ms;
    }
    case "int": {
      const n = typeof value === "number" ? value : /^\d+$/.test(String(value)) ? Number(value) : NaN;
      if (!Number.isInteger(n)) return fail(msg("usage.expect.whole_number"));
      if (flag.min !== undefined && n < flag.min) return fail(msg("usage.expect.number_at_least", { min: flag.min }));
      if (flag.max !== undefined && n > flag.max) return fail(msg("usage.expect.number_at_most", { max: flag.max }));
      return n;
    }
    case "word":
      if (typeof value !== "string" || value === "") return fail(msg("usage.expect.value"));
      if (flag.maxLength !== undefined && value.length > flag.maxLength) return fail(msg("usage.expect.at_most_chars", { max: flag.maxLength }));
      if (flag.choices !== undefined && !flag.choices.includes(value)) return fail(msg("usage.expect.one_of", { choices: flag.choices.join(", ") }));
      return value;
  }
}

/** The options after a quoted command, or undefined unless every word is a known option or its value. */
function trailingFlags(spec: CommandSpec<unknown>, tokens: readonly Token[]): Values | undefined {
  if (tokens.length === 0) return undefined;
  const flags = new Map((spec.flags ?? []).map((f) => [f.name, f]));
  const values: Values = {};
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.quoted || !token.value.startsWith("--")) return undefined;
    const [name, inline] = token.value.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const flag = flags.get(name);
    if (!flag) return undefined;
    if (flag.kind === "boolean") {
      if (inline !== undefined) return undefined;
      values[name] = true;
      continue;
    }
    const value = inline ?? tokens[++i]?.value;
    if (value === undefined) return undefined;
    values[name] = convertFlag(spec, flag, value);
  }
  return values;
}

/** Parses the words after the command path of a text command. */
export function parseTextArgs<C>(spec: CommandSpec<C>, input: string, tokens: readonly Token[]): C {
  const values: Values = {};
  const flags = new Map((spec.flags ?? []).map((f) => [f.name, f]));
  let argIndex = 0;
  let i = 0;
  while (i < tokens.length) {
    const token = tokens[i]!;
    const arg = spec.args[argIndex];
    // In a list, only this command's own options are options: `--x` may be a list item.
    const option = !token.quoted && token.value.startsWith("--") && token.value.length > 2;
    if (option && (arg?.kind !== "list" || flags.has(token.value.slice(2).split("=", 1)[0]!))) {
      const [rawName, inline] = token.value.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      const flag = flags.get(rawName);
      if (!flag) {
        const known = [...flags.keys()].map((n) => `--${n}`).join(", ");
        const where = { option: rawName, command: spec.path.join(" ") };
        throw new UsageError(known ? msg("usage.unknown_option_known", { ...where, known }) : msg("usage.unknown_option", where), usageOf(spec));
      }
      if (flag.kind === "boolean") {
        if (inline !== undefined) throw new UsageError(msg("usage.flag_no_value", { flag: flag.name }), usageOf(spec));
        values[flag.name] = true;
        i += 1;
      } else {
        const value = inline ?? tokens[i + 1]?.value;
        if (value === undefined) throw new UsageError(msg("usage.flag_needs_value", { flag: flag.name }), usageOf(spec));
        values[flag.name] = convertFlag(spec, flag, value);
        i += inline === undefined ? 2 : 1;
      }
      continue;
    }
    if (!arg) {
      throw new UsageError(msg("usage.unexpected", { word: token.value, command: spec.path.join(" ") }), usageOf(spec));
    }
    if (arg.kind === "rest") {
      const trailing = trailingFlags(spec, tokens.slice(i + 1));
      if (token.quoted && trailing) {
        // `'df -h' --timeout 30s`: a quoted command followed only by known options.
        values[arg.name] = token.value;
        Object.assign(values, trailing);
      } else {
        // An option of this command after an unquoted command would silently become part of it.
        const misplaced = tokens.slice(i + 1).find((t) => !t.quoted && t.value.startsWith("--") && flags.has(t.value.slice(2).split("=", 1)[0]!));
        if (misplaced) {
          const option = misplaced.value.slice(2).split("=", 1)[0]!;
          const words = tokens
            .slice(i, tokens.indexOf(misplaced))
            .map((t) => t.value)
            .join(" ");
          const example = `${spec.path.join(" ")} … '${words}' ${tokens
            .slice(tokens.indexOf(misplaced))
            .map((t) => t.value)
            .join(" ")}`;
          throw new UsageError(msg("usage.option_after_command", { option, example: example.slice(0, 300) }), usageOf(spec));
        }
        values[arg.name] = remainder(input, token);
      }
      argIndex = spec.args.length;
      break;
    }
    if (arg.kind === "list") {
      // The list takes the words that follow, options of the command aside (`role=db --via b1 env=prod`).
      values[arg.name] = [...((values[arg.name] as string[] | undefined) ?? []), token.value];
      i += 1;
      continue;
    }
    if (arg.kind === "pairs") {
      // Each word on its own; options of the command are read between them (above).
      values[arg.name] = [...((values[arg.name] as string[] | undefined) ?? []), token.value];
      i += 1;
      continue;
    }
    values[arg.name] = convertArg(spec, arg, token.value);
    argIndex += 1;
    i += 1;
  }
  checkRequired(spec, values);
  return spec.build(values);
}

/** Parses typed options (Discord) for a command path into the same command. */
export function parseOptionArgs<C>(spec: CommandSpec<C>, options: Readonly<Record<string, string | number | boolean>>): C {
  const values: Values = {};
  for (const [name, value] of Object.entries(options)) {
    const arg = spec.args.find((a) => a.name === name);
    const flag = spec.flags?.find((f) => f.name === name);
    if (arg) {
      if (arg.kind === "list" || arg.kind === "pairs") values[name] = tokenize(String(value)).map((t) => t.value);
      else if (arg.kind === "rest") values[name] = String(value).trim();
      else values[name] = convertArg(spec, arg, String(value));
    } else if (flag) {
      if (flag.kind === "boolean" && value === false) continue;
      values[name] = convertFlag(spec, flag, value);
    } else {
      throw new UsageError(msg("usage.unknown_typed_option", { option: name, command: spec.path.join(" ") }), usageOf(spec));
    }
  }
  checkRequired(spec, values);
  return spec.build(values);
}

function checkRequired(spec: CommandSpec<unknown>, values: Values): void {
  for (const arg of spec.args) {
    const value = values[arg.name];
    const empty = value === undefined || value === "" || (Array.isArray(value) && value.length === 0);
    if (!arg.optional && empty) {
      throw new UsageError(msg("usage.missing", { arg: arg.name.toUpperCase(), description: descriptionOf(arg) }), usageOf(spec));
    }
  }
}

/** Finds the spec whose path the tokens start with, preferring the longest. */
export function matchSpec<S extends CommandSpec<unknown>>(
  specs: readonly S[],
  tokens: readonly Token[],
  defaults: Readonly<Record<string, string>>,
): { spec: S; consumed: number } | undefined {
  let best: { spec: S; consumed: number } | undefined;
  for (const spec of specs) {
    const matches = spec.path.every((word, i) => tokens[i] !== undefined && !tokens[i]!.quoted && tokens[i]!.value.toLowerCase() === word);
    if (matches && (!best || spec.path.length > best.consumed)) best = { spec, consumed: spec.path.length };
  }
  if (best) return best;
  // A group word alone runs its default subcommand: `hosts` → `hosts list`.
  const first = tokens[0]?.value.toLowerCase();
  const fallback = first !== undefined ? defaults[first] : undefined;
  if (fallback !== undefined) {
    const spec = specs.find((s) => s.path.length === 2 && s.path[0] === first && s.path[1] === fallback);
    if (spec) return { spec, consumed: 1 };
  }
  return undefined;
}
