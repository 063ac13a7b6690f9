import { UsageError } from "./errors.js";
import { COMMAND_SPECS } from "./command-specs.js";
import type { Command } from "./command-types.js";

export { scriptBody } from "./command-specs.js";
export type { Command, CommandName, RunFlags } from "./command-types.js";
import { describeArg, matchSpec, parseOptionArgs, parseTextArgs, usageOf } from "./grammar.js";
import { english, msg, type Translator } from "./i18n.js";
import { tokenize } from "./tokenize.js";

/** `hosts` alone means `hosts list`; `keys` alone, `keys list`. */
const GROUP_DEFAULTS: Readonly<Record<string, string>> = { hosts: "list", keys: "list", risk: "list", jobs: "list", schedule: "list", runbook: "list" };

/** Parses chat text such as `run prod-db 'df -h'` into a Command. */
export function parseCommandText(text: string): Command {
  const trimmed = text.trim();
  if (trimmed === "") return { name: "help" };
  const tokens = tokenize(trimmed);
  const match = matchSpec(COMMAND_SPECS, tokens, GROUP_DEFAULTS);
  if (!match) {
    const word = tokens[0]?.value ?? "";
    const group = COMMAND_SPECS.filter((s) => s.path[0] === word.toLowerCase());
    if (group.length > 0) {
      throw new UsageError(msg("usage.unknown_subcommand", { word: tokens[1]?.value ?? "", group: word, choices: group.map((s) => s.path.join(" ")).join(", ") }));
    }
    throw new UsageError(msg("usage.unknown_command", { word }));
  }
  const { spec, consumed } = match;
  const rest = tokens.slice(consumed);
  if (consumed < spec.path.length && rest.length > 0 && spec.args.length === 0) {
    const group = COMMAND_SPECS.filter((s) => s.path[0] === spec.path[0]);
    throw new UsageError(msg("usage.unknown_subcommand", { word: rest[0]!.value, group: spec.path[0]!, choices: group.map((s) => s.path.join(" ")).join(", ") }));
  }
  return parseTextArgs(spec, trimmed, rest);
}

/** Parses typed options for a command path (as Discord delivers them) into a Command. */
export function parseCommandOptions(
  path: readonly string[],
  options: Readonly<Record<string, string | number | boolean>>,
): Command {
  const spec = COMMAND_SPECS.find((s) => s.path.length === path.length && s.path.every((w, i) => w === path[i]));
  if (!spec) throw new UsageError(msg("usage.unknown_typed_command", { command: path.join(" ") }));
  return parseOptionArgs(spec, options);
}

/** Help for all commands, or for the ones whose path starts with `topic`, in the language of `t`. */
export function helpLines(topic?: string, t: Translator = english): string[] {
  const specs = topic ? COMMAND_SPECS.filter((s) => s.path[0] === topic.toLowerCase()) : COMMAND_SPECS;
  if (topic && specs.length === 0) throw new UsageError(msg("help.unknown_topic", { topic }));
  return specs.flatMap((s) => {
    const lines = [`${usageOf(s)}  ${s.summaryKey ? t(s.summaryKey) : s.summary}`];
    if (topic) {
      for (const a of s.args) lines.push(`  ${a.name.toUpperCase()}: ${describeArg(a, t)}`);
      for (const f of s.flags ?? []) lines.push(`  --${f.name}: ${describeArg(f, t)}`);
      if (s.example) lines.push(`  ${t("help.example", { example: s.example })}`);
    }
    return lines;
  });
}

export { usageOf };

export { COMMAND_SPECS };
