import { UsageError } from "./errors.js";
import { matchSpec, parseOptionArgs, parseTextArgs, usageOf, type CommandSpec, type Values } from "./grammar.js";
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

/** How a run spreads over its hosts. */
export interface RunFlags {
  readonly timeoutMs?: number | undefined;
  readonly parallel?: number | undefined;
  readonly batch?: number | undefined;
  readonly maxFailures?: number | undefined;
  readonly dryRun?: boolean | undefined;
}

/** Scripts larger than this are refused (they travel through chat and are uploaded to every host). */
export const MAX_SCRIPT_BYTES = 16 * 1024;

/** The script in a command: the content of a fenced code block, or the text itself. */
export function scriptBody(text: string): string {
  // An optional language word right after the opening fence, on its own line.
  const fenced = /```(?:[a-zA-Z0-9_+-]*\n)?([\s\S]*?)```/.exec(text);
  const body = (fenced ? fenced[1]! : text).replace(/^\n+/, "");
  if (body.trim() === "") throw new UsageError("the script is empty: put it in a fenced code block after the target");
  const bytes = Buffer.byteLength(body, "utf8");
  if (bytes > MAX_SCRIPT_BYTES) {
    throw new UsageError(`the script is ${bytes} bytes; the limit is ${MAX_SCRIPT_BYTES}. Put larger scripts on the hosts and run them with /testum run.`);
  }
  return body;
}
type Spec = CommandSpec<Command>;

const str = (v: unknown): string => String(v);
const optStr = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);
/** `[on] SELECTOR` after a role; `*` when absent. */
function scopeOf(words: readonly string[]): string {
  const rest = words[0]?.toLowerCase() === "on" ? words.slice(1) : words;
  if (rest.length > 1) throw new UsageError(`give one scope (a host name, tag=value or *), got "${rest.join(" ")}"`);
  return rest[0] ?? "*";
}
const HOST_ARG = { name: "host", kind: "host", description: "The host's name", complete: "host" } as const;
const RUN_FLAGS = [
  { name: "timeout", kind: "duration", description: "Stop the command after this long (e.g. 30s, 10m)", min: 1000, max: 7 * 86_400_000 },
  { name: "parallel", kind: "int", description: "Hosts at once (default 50)", min: 1, max: 1000 },
  { name: "batch", kind: "int", description: "Run hosts in batches of this size, one batch after another", min: 1, max: 10_000 },
  { name: "max-failures", kind: "int", description: "Stop starting hosts after this many failures", min: 1, max: 10_000 },
  { name: "dry-run", kind: "boolean", description: "Show the hosts it would run on, and run nothing" },
] as const;
const runFlags = (v: Values): RunFlags => ({
  timeoutMs: v.timeout as number | undefined,
  parallel: v.parallel as number | undefined,
  batch: v.batch as number | undefined,
  maxFailures: v["max-failures"] as number | undefined,
  dryRun: v["dry-run"] === true ? true : undefined,
});
const JOB_ARG = { name: "job", kind: "int", description: "The job number" } as const;
const KEY_ARG = { name: "key", kind: "word", description: "The key's name" } as const;
const TARGET_ARG = { name: "target", kind: "target", description: "Hosts: a name, names joined by commas, a glob (web-*), a tag (role=web) or all", complete: "target" } as const;

export const COMMAND_SPECS: readonly Spec[] = [
  {
    path: ["run"],
    summary: "Run a shell command on hosts",
    args: [
      { name: "target", kind: "target", description: "Hosts: a name, names joined by commas, a glob (web-*), tags (role=web) or all", complete: "target" },
      { name: "command", kind: "rest", description: "The shell command, quoted: 'df -h'" },
    ],
    flags: RUN_FLAGS,
    example: "/testum run role=web --parallel 20 'systemctl is-active nginx'",
    build: (v) => ({ name: "run", target: str(v.target), command: str(v.command), ...runFlags(v) }),
  },
  {
    path: ["script"],
    summary: "Run a script on hosts: a fenced code block after the target, or a form",
    args: [
      { name: "target", kind: "target", description: "Hosts: a name, names joined by commas, a glob (web-*), tags (role=web) or all", complete: "target" },
      { name: "script", kind: "rest", description: "The script in a fenced code block (leave out to get a form)", optional: true },
    ],
    flags: RUN_FLAGS,
    example: "/testum script web-* ```#!/bin/bash\nuptime```",
    build: (v) => ({ name: "script", target: str(v.target), script: v.script === undefined ? undefined : scriptBody(str(v.script)), ...runFlags(v) }),
  },
  {
    path: ["cancel"],
    summary: "Stop a job: its remote commands are killed, hosts not started are skipped",
    args: [JOB_ARG],
    build: (v) => ({ name: "cancel", job: Number(v.job) }),
  },
  {
    path: ["jobs", "list"],
    summary: "Recent jobs in this channel",
    args: [],
    build: () => ({ name: "jobs.list" }),
  },
  {
    path: ["jobs", "show"],
    summary: "A job's status and per-host results",
    args: [JOB_ARG],
    build: (v) => ({ name: "jobs.show", job: Number(v.job) }),
  },
  {
    path: ["logs"],
    summary: "Links to a job's full logs and report",
    args: [JOB_ARG, { name: "host", kind: "host", description: "Only this host's log", optional: true, complete: "host" }],
    build: (v) => ({ name: "logs", job: Number(v.job), host: optStr(v.host) }),
  },
  {
    path: ["hosts", "list"],
    summary: "List the hosts testum knows",
    args: [],
    example: "/testum hosts",
    build: () => ({ name: "hosts.list" }),
  },
  {
    path: ["hosts", "show"],
    summary: "Show a host's address, credential kind, host key and tags",
    args: [HOST_ARG],
    build: (v) => ({ name: "hosts.show", host: str(v.host) }),
  },
  {
    path: ["hosts", "add"],
    summary: "Add a host that trusts testum's identity key (see /testum identity)",
    args: [
      { name: "host", kind: "host", description: "A name for the host: 1-63 of a-z 0-9 - . _" },
      { name: "address", kind: "word", description: "USER@HOST[:PORT], e.g. deploy@10.0.0.5:22" },
      { name: "tags", kind: "list", description: "Tags as KEY=VALUE, e.g. role=web env=prod", optional: true },
    ],
    example: "/testum hosts add web-1 deploy@10.0.0.5 role=web",
    build: (v) => ({ name: "hosts.add", host: str(v.host), address: str(v.address), tags: list(v.tags) }),
  },
  {
    path: ["hosts", "rm"],
    summary: "Remove a host and its stored credential",
    args: [HOST_ARG],
    build: (v) => ({ name: "hosts.rm", host: str(v.host) }),
  },
  {
    path: ["hosts", "tag"],
    summary: "Set tags on a host",
    args: [HOST_ARG, { name: "tags", kind: "list", description: "Tags as KEY=VALUE" }],
    example: "/testum hosts tag web-1 role=web env=prod",
    build: (v) => ({ name: "hosts.tag", host: str(v.host), tags: list(v.tags) }),
  },
  {
    path: ["hosts", "untag"],
    summary: "Remove tags from a host",
    args: [HOST_ARG, { name: "keys", kind: "list", description: "Tag keys to remove" }],
    example: "/testum hosts untag web-1 env",
    build: (v) => ({ name: "hosts.untag", host: str(v.host), keys: list(v.keys) }),
  },
  {
    path: ["hosts", "test"],
    summary: "Connect to a host: host key, latency, and whether authentication works",
    args: [HOST_ARG],
    build: (v) => ({ name: "hosts.test", host: str(v.host) }),
  },
  {
    path: ["hosts", "repin"],
    summary: "Accept a host's new host key, after showing the old and the new",
    args: [HOST_ARG],
    build: (v) => ({ name: "hosts.repin", host: str(v.host) }),
  },
  {
    path: ["hosts", "secret"],
    summary: "Give a host a password or private key, in a private form",
    args: [HOST_ARG],
    build: (v) => ({ name: "hosts.secret", host: str(v.host) }),
  },
  {
    path: ["identity"],
    summary: "Show testum's public key, to put in a host's authorized_keys",
    args: [],
    build: () => ({ name: "identity" }),
  },
  {
    path: ["keys", "list"],
    summary: "List the team's public keys",
    args: [],
    build: () => ({ name: "keys.list" }),
  },
  {
    path: ["keys", "add"],
    summary: "Register a team member's PUBLIC key",
    args: [
      { name: "key", kind: "word", description: "A name for the key, e.g. alice" },
      { name: "line", kind: "rest", description: "The public key line: ssh-ed25519 AAAA… comment" },
    ],
    example: "/testum keys add alice ssh-ed25519 AAAAC3Nza… alice@laptop",
    build: (v) => ({ name: "keys.add", key: str(v.key), line: str(v.line) }),
  },
  {
    path: ["keys", "rm"],
    summary: "Remove a key from testum (revoke it from hosts first)",
    args: [KEY_ARG],
    build: (v) => ({ name: "keys.rm", key: str(v.key) }),
  },
  {
    path: ["keys", "deploy"],
    summary: "Put a key (or all keys) into hosts' authorized_keys",
    args: [{ name: "key", kind: "word", description: "The key's name, or all" }, TARGET_ARG],
    example: "/testum keys deploy alice role=web",
    build: (v) => ({ name: "keys.deploy", key: str(v.key), target: str(v.target) }),
  },
  {
    path: ["keys", "revoke"],
    summary: "Remove a key from hosts' authorized_keys",
    args: [KEY_ARG, TARGET_ARG],
    build: (v) => ({ name: "keys.revoke", key: str(v.key), target: str(v.target) }),
  },
  {
    path: ["keys", "status"],
    summary: "Per host: managed keys present and missing, and lines testum does not manage",
    args: [TARGET_ARG],
    build: (v) => ({ name: "keys.status", target: str(v.target) }),
  },
  {
    path: ["grant"],
    summary: "Give a user or a group a role, on all hosts or a scope",
    args: [
      { name: "subject", kind: "subject", description: "A user or group (mention them), or an identity" },
      { name: "role", kind: "word", description: "viewer, operator, approver or admin" },
      { name: "scope", kind: "list", description: "on HOST, on tag=value, or on * (the default)", optional: true },
    ],
    example: "/testum grant @alice operator on role=web",
    build: (v) => ({ name: "grant", subject: str(v.subject), role: str(v.role), scope: scopeOf(list(v.scope)) }),
  },
  {
    path: ["revoke"],
    summary: "Take a role back",
    args: [
      { name: "subject", kind: "subject", description: "A user or group (mention them), or an identity" },
      { name: "role", kind: "word", description: "viewer, operator, approver or admin" },
      { name: "scope", kind: "list", description: "on HOST, on tag=value, or on * (the default)", optional: true },
    ],
    example: "/testum revoke @alice operator on role=web",
    build: (v) => ({ name: "revoke", subject: str(v.subject), role: str(v.role), scope: scopeOf(list(v.scope)) }),
  },
  {
    path: ["access"],
    summary: "List who holds which role, on which hosts",
    args: [],
    build: () => ({ name: "access" }),
  },
  {
    path: ["whoami"],
    summary: "Show your identity, groups, roles and scopes",
    args: [],
    build: () => ({ name: "whoami" }),
  },
  {
    path: ["approve"],
    summary: "Approve a job that waits for approval",
    args: [{ name: "job", kind: "int", description: "The job number" }],
    example: "/testum approve 42",
    build: (v) => ({ name: "approve", job: Number(v.job) }),
  },
  {
    path: ["reject"],
    summary: "Reject a job that waits for approval",
    args: [
      { name: "job", kind: "int", description: "The job number" },
      { name: "reason", kind: "rest", description: "Why", optional: true },
    ],
    example: "/testum reject 42 not during business hours",
    build: (v) => ({ name: "reject", job: Number(v.job), reason: optStr(v.reason) }),
  },
  {
    path: ["audit"],
    summary: "Read the audit log (admins)",
    args: [{ name: "filters", kind: "list", description: "user=… host=… action=… since=2026-11-01 or since=2h", optional: true }],
    example: "/testum audit host=db-1 since=24h",
    build: (v) => ({ name: "audit", filters: list(v.filters) }),
  },
  {
    path: ["risk", "list"],
    summary: "List the patterns that make a command need approval",
    args: [],
    build: () => ({ name: "risk.list" }),
  },
  {
    path: ["risk", "add"],
    summary: "Add a risky-command pattern (admins)",
    args: [
      { name: "pattern", kind: "word", description: "A regular expression, quoted: '\\bsystemctl\\s+stop\\b'" },
      { name: "description", kind: "rest", description: "What it catches, in words" },
    ],
    example: "/testum risk add '\\bpg_ctl\\s+stop\\b' stopping PostgreSQL",
    build: (v) => ({ name: "risk.add", pattern: str(v.pattern), description: str(v.description) }),
  },
  {
    path: ["risk", "rm"],
    summary: "Remove a risky-command pattern (admins)",
    args: [{ name: "id", kind: "int", description: "The pattern's number in /testum risk" }],
    build: (v) => ({ name: "risk.rm", id: Number(v.id) }),
  },
  {
    path: ["schedule", "add"],
    summary: "Run a command on a cron schedule, reporting to this channel",
    args: [
      { name: "cron", kind: "word", description: 'A cron expression, quoted: "0 8 * * 1-5", or with seconds "*/30 * * * * *"' },
      { name: "target", kind: "target", description: "Hosts: a name, names joined by commas, a glob (web-*), tags (role=web) or all", complete: "target" },
      { name: "command", kind: "rest", description: "The shell command, quoted" },
    ],
    flags: [
      { name: "tz", kind: "word", description: "Time zone of the schedule, e.g. Europe/Berlin (default UTC)" },
      { name: "name", kind: "word", description: "A name for the report" },
      { name: "on-change", kind: "boolean", description: "Post only when the output differs from the last run" },
      { name: "timeout", kind: "duration", description: "Stop the command after this long (e.g. 30s, 10m)", min: 1000, max: 86_400_000 },
    ],
    example: `/testum schedule add "0 8 * * 1-5" role=db 'df -h /' --name disk --tz Europe/Berlin`,
    build: (v) => ({
      name: "schedule.add",
      cron: str(v.cron),
      target: str(v.target),
      command: str(v.command),
      timezone: optStr(v.tz),
      label: optStr(v.name),
      onChange: v["on-change"] === true ? true : undefined,
      timeoutMs: v.timeout as number | undefined,
    }),
  },
  {
    path: ["schedule", "list"],
    summary: "The schedules reporting to this channel",
    args: [],
    build: () => ({ name: "schedule.list" }),
  },
  ...(["show", "rm", "pause", "resume", "run"] as const).map(
    (verb): Spec => ({
      path: ["schedule", verb],
      summary: {
        show: "A schedule in full, with its next run times",
        rm: "Delete a schedule",
        pause: "Stop a schedule's runs until it is resumed",
        resume: "Start a paused schedule again",
        run: "Run a schedule now",
      }[verb],
      args: [{ name: "schedule", kind: "int", description: "The schedule's number" }],
      build: (v) => ({ name: `schedule.${verb}`, schedule: Number(v.schedule) }),
    }),
  ),
  {
    path: ["help"],
    summary: "Show what testum can do",
    args: [{ name: "topic", kind: "word", description: "A command to explain", optional: true }],
    example: "/testum help run",
    build: (v) => ({ name: "help", topic: optStr(v.topic) }),
  },
];

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
