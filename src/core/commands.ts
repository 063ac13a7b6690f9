import { UsageError } from "./errors.js";
import { COMMAND_SPECS, type RunFlags, type Spec } from "./command-specs.js";

export { MAX_SCRIPT_BYTES, scriptBody, type RunFlags } from "./command-specs.js";
import { describeArg, matchSpec, parseOptionArgs, parseTextArgs, usageOf } from "./grammar.js";
import { english, msg, type Translator } from "./i18n.js";
import { tokenize } from "./tokenize.js";

/**
 * Every chat command testum understands, as one typed union. Slack text and
 * Discord options both become a Command here; adapters never interpret
 * arguments themselves.
 */
export type Command =
  | ({ readonly name: "run"; readonly target: string; readonly command: string } & RunFlags)
  | ({ readonly name: "script"; readonly target: string; readonly script?: string | undefined } & RunFlags)
  | { readonly name: "cancel"; readonly job: number }
  | { readonly name: "jobs.list" }
  | { readonly name: "jobs.show"; readonly job: number }
  | { readonly name: "logs"; readonly job: number; readonly host?: string | undefined }
  | { readonly name: "hosts.list" }
  | { readonly name: "hosts.show"; readonly host: string }
  | { readonly name: "hosts.add"; readonly host: string; readonly address: string; readonly tags: readonly string[] }
  | { readonly name: "hosts.rm"; readonly host: string }
  | { readonly name: "hosts.tag"; readonly host: string; readonly tags: readonly string[] }
  | { readonly name: "hosts.untag"; readonly host: string; readonly keys: readonly string[] }
  | { readonly name: "hosts.test"; readonly host: string }
  | { readonly name: "hosts.repin"; readonly host: string }
  | { readonly name: "hosts.secret"; readonly host: string }
  | { readonly name: "identity" }
  | { readonly name: "keys.list" }
  | { readonly name: "keys.add"; readonly key: string; readonly line: string }
  | { readonly name: "keys.rm"; readonly key: string }
  | { readonly name: "keys.deploy"; readonly key: string; readonly target: string }
  | { readonly name: "keys.revoke"; readonly key: string; readonly target: string }
  | { readonly name: "keys.status"; readonly target: string }
  | { readonly name: "grant"; readonly subject: string; readonly role: string; readonly scope: string }
  | { readonly name: "revoke"; readonly subject: string; readonly role: string; readonly scope: string }
  | { readonly name: "access" }
  | { readonly name: "whoami" }
  | { readonly name: "approve"; readonly job: number }
  | { readonly name: "reject"; readonly job: number; readonly reason?: string | undefined }
  | { readonly name: "audit"; readonly filters: readonly string[] }
  | { readonly name: "risk.list" }
  | { readonly name: "risk.add"; readonly pattern: string; readonly description: string }
  | { readonly name: "risk.rm"; readonly id: number }
  | {
      readonly name: "schedule.add";
      readonly cron: string;
      readonly target: string;
      readonly command: string;
      readonly timezone?: string | undefined;
      readonly label?: string | undefined;
      readonly onChange?: boolean | undefined;
      readonly timeoutMs?: number | undefined;
    }
  | { readonly name: "schedule.list" }
  | { readonly name: "schedule.show"; readonly schedule: number }
  | { readonly name: "schedule.rm"; readonly schedule: number }
  | { readonly name: "schedule.pause"; readonly schedule: number }
  | { readonly name: "schedule.resume"; readonly schedule: number }
  | { readonly name: "schedule.run"; readonly schedule: number }
  | { readonly name: "help"; readonly topic?: string | undefined };

export type CommandName = Command["name"];

/** `hosts` alone means `hosts list`; `keys` alone, `keys list`. */
const GROUP_DEFAULTS: Readonly<Record<string, string>> = { hosts: "list", keys: "list", risk: "list", jobs: "list", schedule: "list" };

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

export function specFor(name: CommandName): Spec {
  const spec = COMMAND_SPECS.find((s) => s.path.join(".") === name);
  if (!spec) throw new Error(`no spec for ${name}`);
  return spec;
}

export { usageOf };

export { COMMAND_SPECS };
