import { UsageError } from "../errors.js";
import { COMMAND_SPECS, type Spec } from "./command-specs.js";
import { closestWord } from "./suggest.js";
import type { Command } from "./command-types.js";

export { scriptBody } from "./command-specs.js";
export type { Command, CommandName, RunFlags } from "./command-types.js";
import { matchSpec, parseOptionArgs, parseTextArgs } from "./grammar.js";
import { msg } from "../chat/i18n.js";
import { tokenize } from "./tokenize.js";

/** `hosts` alone means `hosts list`; `keys` alone, `keys list`. */
const GROUP_DEFAULTS: Readonly<Record<string, string>> = { hosts: "list", keys: "list", risk: "list", redact: "list", jobs: "list", schedule: "list", runbook: "list" };

function unknownSubcommand(word: string, group: string, specs: readonly Spec[]): never {
  const choices = specs.map((s) => s.path.join(" ")).join(", ");
  const suggestion = closestWord(
    word,
    specs.map((s) => s.path[1] ?? ""),
  );
  throw new UsageError(suggestion ? msg("usage.did_you_mean_sub", { word, group, suggestion, choices }) : msg("usage.unknown_subcommand", { word, group, choices }));
}

/** Parses chat text such as `run prod-db 'df -h'` into a Command. */
export function parseCommandText(text: string): Command {
  const trimmed = text.trim();
  if (trimmed === "") return { name: "help" };
  const tokens = tokenize(trimmed);
  const match = matchSpec(COMMAND_SPECS, tokens, GROUP_DEFAULTS);
  if (!match) {
    const word = tokens[0]?.value ?? "";
    const group = COMMAND_SPECS.filter((s) => s.path[0] === word.toLowerCase());
    if (group.length > 0) unknownSubcommand(tokens[1]?.value ?? "", word.toLowerCase(), group);
    const suggestion = closestWord(
      word,
      COMMAND_SPECS.map((s) => s.path[0]!),
    );
    throw new UsageError(suggestion ? msg("usage.did_you_mean", { word, suggestion }) : msg("usage.unknown_command", { word }));
  }
  const { spec, consumed } = match;
  const rest = tokens.slice(consumed);
  if (consumed < spec.path.length && rest.length > 0 && spec.args.length === 0) {
    unknownSubcommand(
      rest[0]!.value,
      spec.path[0]!,
      COMMAND_SPECS.filter((s) => s.path[0] === spec.path[0]),
    );
  }
  return parseTextArgs(spec, trimmed, rest);
}

/** Parses typed options for a command path (as Discord delivers them) into a Command. */
export function parseCommandOptions(path: readonly string[], options: Readonly<Record<string, string | number | boolean>>): Command {
  const spec = COMMAND_SPECS.find((s) => s.path.length === path.length && s.path.every((w, i) => w === path[i]));
  if (!spec) throw new UsageError(msg("usage.unknown_typed_command", { command: path.join(" ") }));
  return parseOptionArgs(spec, options);
}

export { COMMAND_SPECS };
