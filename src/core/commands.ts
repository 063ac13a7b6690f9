import { UsageError } from "./errors.js";
import { matchSpec, parseOptionArgs, parseTextArgs, usageOf, type CommandSpec } from "./grammar.js";
import { tokenize } from "./tokenize.js";

/**
 * Every chat command testum understands, as one typed union. Slack text and
 * Discord options both become a Command here; adapters never interpret
 * arguments themselves.
 */
export type Command =
  | { readonly name: "run"; readonly target: string; readonly command: string; readonly timeoutMs?: number | undefined }
  | { readonly name: "hosts.list" }
  | { readonly name: "help"; readonly topic?: string | undefined };

export type CommandName = Command["name"];
type Spec = CommandSpec<Command>;

const str = (v: unknown): string => String(v);
const optStr = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));

export const COMMAND_SPECS: readonly Spec[] = [
  {
    path: ["run"],
    summary: "Run a shell command on a host",
    args: [
      { name: "target", kind: "target", description: "The host to run on", complete: "target" },
      { name: "command", kind: "rest", description: "The shell command, quoted: 'df -h'" },
    ],
    flags: [
      { name: "timeout", kind: "duration", description: "Kill the command after this long (e.g. 30s, 10m)", min: 1000, max: 7 * 86_400_000 },
    ],
    example: "/testum run prod-db 'df -h'",
    build: (v) => ({
      name: "run",
      target: str(v.target),
      command: str(v.command),
      timeoutMs: v.timeout as number | undefined,
    }),
  },
  {
    path: ["hosts", "list"],
    summary: "List the hosts testum knows",
    args: [],
    example: "/testum hosts",
    build: () => ({ name: "hosts.list" }),
  },
  {
    path: ["help"],
    summary: "Show what testum can do",
    args: [{ name: "topic", kind: "word", description: "A command to explain", optional: true }],
    example: "/testum help run",
    build: (v) => ({ name: "help", topic: optStr(v.topic) }),
  },
];

/** `hosts` alone means `hosts list`. */
const GROUP_DEFAULTS: Readonly<Record<string, string>> = { hosts: "list" };

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
      throw new UsageError(
        `unknown subcommand "${tokens[1]?.value ?? ""}" of ${word}: try ${group.map((s) => s.path.join(" ")).join(", ")}`,
      );
    }
    throw new UsageError(`unknown command "${word}". Type /testum help to see the commands.`);
  }
  const { spec, consumed } = match;
  const rest = tokens.slice(consumed);
  if (consumed < spec.path.length && rest.length > 0 && spec.args.length === 0) {
    const group = COMMAND_SPECS.filter((s) => s.path[0] === spec.path[0]);
    throw new UsageError(
      `unknown subcommand "${rest[0]!.value}" of ${spec.path[0]}: try ${group.map((s) => s.path.join(" ")).join(", ")}`,
    );
  }
  return parseTextArgs(spec, trimmed, rest);
}

/** Parses typed options for a command path (as Discord delivers them) into a Command. */
export function parseCommandOptions(
  path: readonly string[],
  options: Readonly<Record<string, string | number | boolean>>,
): Command {
  const spec = COMMAND_SPECS.find((s) => s.path.length === path.length && s.path.every((w, i) => w === path[i]));
  if (!spec) throw new UsageError(`unknown command "${path.join(" ")}". Use /testum help to see the commands.`);
  return parseOptionArgs(spec, options);
}

/** Help for all commands, or for the ones whose path starts with `topic`. */
export function helpLines(topic?: string): string[] {
  const specs = topic ? COMMAND_SPECS.filter((s) => s.path[0] === topic.toLowerCase()) : COMMAND_SPECS;
  if (topic && specs.length === 0) throw new UsageError(`no command called "${topic}". Type /testum help for the list.`);
  return specs.flatMap((s) => {
    const lines = [`${usageOf(s)}  ${s.summary}`];
    if (topic) {
      for (const a of s.args) lines.push(`  ${a.name.toUpperCase()}: ${a.description}`);
      for (const f of s.flags ?? []) lines.push(`  --${f.name}: ${f.description}`);
      if (s.example) lines.push(`  e.g. ${s.example}`);
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
