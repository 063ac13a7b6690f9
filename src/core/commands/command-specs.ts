import type { Command, RunFlags } from "./command-types.js";
import type { CommandSpec, Values } from "./grammar.js";
import { msg, translate, type MessageKey } from "../chat/i18n.js";
import { UsageError } from "../errors.js";
import { parseParamWords } from "../runbooks/runbook-template.js";

/**
 * Every chat command's spec: its words, arguments and options, described
 * once. The same spec parses Slack text and Discord options, registers the
 * Discord command and writes help.
 */
/** Scripts larger than this are refused (they travel through chat and are uploaded to every host). */
export const MAX_SCRIPT_BYTES = 16 * 1024;

/** The script in a command: the content of a fenced code block, or the text itself. */
export function scriptBody(text: string): string {
  // An optional language word right after the opening fence, on its own line.
  const fenced = /```(?:[a-zA-Z0-9_+-]*\n)?([\s\S]*?)```/.exec(text);
  const body = (fenced ? fenced[1]! : text).replace(/^\n+/, "");
  if (body.trim() === "") throw new UsageError(msg("usage.script_empty"));
  const bytes = Buffer.byteLength(body, "utf8");
  if (bytes > MAX_SCRIPT_BYTES) throw new UsageError(msg("usage.script_too_large", { bytes, limit: MAX_SCRIPT_BYTES }));
  return body;
}

export type Spec = CommandSpec<Command>;

const str = (v: unknown): string => String(v);
const optStr = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);
/** `[on] SELECTOR` after a role; `*` when absent. */
function scopeOf(words: readonly string[]): string {
  const rest = words[0]?.toLowerCase() === "on" ? words.slice(1) : words;
  if (rest.length > 1) throw new UsageError(msg("usage.one_scope", { got: rest.join(" ") }));
  return rest[0] ?? "*";
}
/** A spec's words come from the English catalogue; the key lets help say them in the user's language. */
const summary = (key: MessageKey) => ({ summary: translate("en", key), summaryKey: key });
const described = (key: MessageKey) => ({ description: translate("en", key), descriptionKey: key });
const HOST_ARG = { name: "host", kind: "host", ...described("arg.host"), complete: "host" } as const;
const RUN_FLAGS = [
  { name: "timeout", kind: "duration", ...described("flag.timeout"), min: 1000, max: 7 * 86_400_000 },
  { name: "parallel", kind: "int", ...described("flag.parallel"), min: 1, max: 1000 },
  { name: "batch", kind: "int", ...described("flag.batch"), min: 1, max: 10_000 },
  { name: "max-failures", kind: "int", ...described("flag.max_failures"), min: 1, max: 10_000 },
  { name: "dry-run", kind: "boolean", ...described("flag.dry_run") },
] as const;
const runFlags = (v: Values): RunFlags => ({
  timeoutMs: v.timeout as number | undefined,
  parallel: v.parallel as number | undefined,
  batch: v.batch as number | undefined,
  maxFailures: v["max-failures"] as number | undefined,
  dryRun: v["dry-run"] === true ? true : undefined,
});
const JOB_ARG = { name: "job", kind: "int", ...described("arg.job") } as const;
const KEY_ARG = { name: "key", kind: "word", ...described("arg.key") } as const;
const TARGET_ARG = { name: "target", kind: "target", ...described("arg.target"), complete: "target" } as const;
const RUNBOOK_ARG = { name: "runbook", kind: "word", ...described("arg.runbook"), complete: "runbook" } as const;
const PARAMS_ARG = { name: "params", kind: "pairs", ...described("arg.params"), optional: true, complete: "params" } as const;
/** `key=value` words → values by name (checked against the runbook when it runs). */
const pairs = (v: unknown): Record<string, string> => parseParamWords(list(v));

export const COMMAND_SPECS: readonly Spec[] = [
  {
    path: ["run"],
    ...summary("command.run.summary"),
    args: [
      { name: "target", kind: "target", ...described("arg.target_tags"), complete: "target" },
      { name: "command", kind: "rest", ...described("command.run.arg.command") },
    ],
    flags: RUN_FLAGS,
    example: "/testum run role=web --parallel 20 'systemctl is-active nginx'",
    build: (v) => ({ name: "run", target: str(v.target), command: str(v.command), ...runFlags(v) }),
  },
  {
    path: ["script"],
    ...summary("command.script.summary"),
    args: [
      { name: "target", kind: "target", ...described("arg.target_tags"), complete: "target" },
      { name: "script", kind: "rest", ...described("command.script.arg.script"), optional: true },
    ],
    flags: RUN_FLAGS,
    example: "/testum script web-* ```#!/bin/bash\nuptime```",
    build: (v) => ({ name: "script", target: str(v.target), script: v.script === undefined ? undefined : scriptBody(str(v.script)), ...runFlags(v) }),
  },
  {
    path: ["cancel"],
    ...summary("command.cancel.summary"),
    args: [JOB_ARG],
    build: (v) => ({ name: "cancel", job: Number(v.job) }),
  },
  {
    path: ["jobs", "list"],
    ...summary("command.jobs.list.summary"),
    args: [],
    build: () => ({ name: "jobs.list" }),
  },
  {
    path: ["jobs", "show"],
    ...summary("command.jobs.show.summary"),
    args: [JOB_ARG],
    build: (v) => ({ name: "jobs.show", job: Number(v.job) }),
  },
  {
    path: ["jobs", "revoke-links"],
    ...summary("command.jobs.revoke_links.summary"),
    args: [JOB_ARG],
    example: "/testum jobs revoke-links 42",
    build: (v) => ({ name: "jobs.revoke-links", job: Number(v.job) }),
  },
  {
    path: ["logs"],
    ...summary("command.logs.summary"),
    args: [JOB_ARG, { name: "host", kind: "host", ...described("command.logs.arg.host"), optional: true, complete: "host" }],
    build: (v) => ({ name: "logs", job: Number(v.job), host: optStr(v.host) }),
  },
  {
    path: ["hosts", "list"],
    ...summary("command.hosts.list.summary"),
    args: [],
    example: "/testum hosts",
    build: () => ({ name: "hosts.list" }),
  },
  {
    path: ["hosts", "show"],
    ...summary("command.hosts.show.summary"),
    args: [HOST_ARG],
    build: (v) => ({ name: "hosts.show", host: str(v.host) }),
  },
  {
    path: ["hosts", "add"],
    ...summary("command.hosts.add.summary"),
    args: [
      { name: "host", kind: "host", ...described("command.hosts.add.arg.host") },
      { name: "address", kind: "word", ...described("command.hosts.add.arg.address") },
      { name: "tags", kind: "list", ...described("command.hosts.add.arg.tags"), optional: true },
    ],
    flags: [{ name: "via", kind: "word", ...described("command.hosts.add.flag.via"), maxLength: 200 }],
    example: "/testum hosts add db-1 deploy@10.0.0.7 --via bastion role=db",
    build: (v) => ({ name: "hosts.add", host: str(v.host), address: str(v.address), tags: list(v.tags), via: optStr(v.via) }),
  },
  {
    path: ["hosts", "via"],
    ...summary("command.hosts.via.summary"),
    args: [HOST_ARG, { name: "bastion", kind: "word", ...described("command.hosts.via.arg.bastion"), optional: true, complete: "host" }],
    example: "/testum hosts via db-1 bastion",
    build: (v) => ({ name: "hosts.via", host: str(v.host), bastion: optStr(v.bastion) }),
  },
  {
    path: ["hosts", "rm"],
    ...summary("command.hosts.rm.summary"),
    args: [HOST_ARG],
    build: (v) => ({ name: "hosts.rm", host: str(v.host) }),
  },
  {
    path: ["hosts", "tag"],
    ...summary("command.hosts.tag.summary"),
    args: [HOST_ARG, { name: "tags", kind: "list", ...described("arg.tags") }],
    example: "/testum hosts tag web-1 role=web env=prod",
    build: (v) => ({ name: "hosts.tag", host: str(v.host), tags: list(v.tags) }),
  },
  {
    path: ["hosts", "untag"],
    ...summary("command.hosts.untag.summary"),
    args: [HOST_ARG, { name: "keys", kind: "list", ...described("command.hosts.untag.arg.keys") }],
    example: "/testum hosts untag web-1 env",
    build: (v) => ({ name: "hosts.untag", host: str(v.host), keys: list(v.keys) }),
  },
  {
    path: ["hosts", "test"],
    ...summary("command.hosts.test.summary"),
    args: [HOST_ARG],
    build: (v) => ({ name: "hosts.test", host: str(v.host) }),
  },
  {
    path: ["hosts", "repin"],
    ...summary("command.hosts.repin.summary"),
    args: [HOST_ARG, { name: "fingerprint", kind: "word", ...described("command.hosts.repin.arg.fingerprint"), optional: true }],
    example: "/testum hosts repin web-1 SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
    build: (v) => ({ name: "hosts.repin", host: str(v.host), fingerprint: optStr(v.fingerprint) }),
  },
  {
    path: ["hosts", "secret"],
    ...summary("command.hosts.secret.summary"),
    args: [HOST_ARG],
    build: (v) => ({ name: "hosts.secret", host: str(v.host) }),
  },
  {
    path: ["identity"],
    ...summary("command.identity.summary"),
    args: [],
    build: () => ({ name: "identity" }),
  },
  {
    path: ["keys", "list"],
    ...summary("command.keys.list.summary"),
    args: [],
    build: () => ({ name: "keys.list" }),
  },
  {
    path: ["keys", "add"],
    ...summary("command.keys.add.summary"),
    args: [
      { name: "key", kind: "word", ...described("command.keys.add.arg.key") },
      { name: "line", kind: "rest", ...described("command.keys.add.arg.line") },
    ],
    example: "/testum keys add alice ssh-ed25519 AAAAC3Nza… alice@laptop",
    build: (v) => ({ name: "keys.add", key: str(v.key), line: str(v.line) }),
  },
  {
    path: ["keys", "rm"],
    ...summary("command.keys.rm.summary"),
    args: [KEY_ARG],
    build: (v) => ({ name: "keys.rm", key: str(v.key) }),
  },
  {
    path: ["keys", "deploy"],
    ...summary("command.keys.deploy.summary"),
    args: [{ name: "key", kind: "word", ...described("command.keys.deploy.arg.key") }, TARGET_ARG],
    example: "/testum keys deploy alice role=web",
    build: (v) => ({ name: "keys.deploy", key: str(v.key), target: str(v.target) }),
  },
  {
    path: ["keys", "revoke"],
    ...summary("command.keys.revoke.summary"),
    args: [KEY_ARG, TARGET_ARG],
    build: (v) => ({ name: "keys.revoke", key: str(v.key), target: str(v.target) }),
  },
  {
    path: ["keys", "status"],
    ...summary("command.keys.status.summary"),
    args: [TARGET_ARG],
    build: (v) => ({ name: "keys.status", target: str(v.target) }),
  },
  {
    path: ["grant"],
    ...summary("command.grant.summary"),
    args: [
      { name: "subject", kind: "subject", ...described("arg.subject") },
      { name: "role", kind: "word", ...described("arg.role") },
      { name: "scope", kind: "list", ...described("arg.scope"), optional: true },
    ],
    example: "/testum grant @alice operator on role=web",
    build: (v) => ({ name: "grant", subject: str(v.subject), role: str(v.role), scope: scopeOf(list(v.scope)) }),
  },
  {
    path: ["revoke"],
    ...summary("command.revoke.summary"),
    args: [
      { name: "subject", kind: "subject", ...described("arg.subject") },
      { name: "role", kind: "word", ...described("arg.role") },
      { name: "scope", kind: "list", ...described("arg.scope"), optional: true },
    ],
    example: "/testum revoke @alice operator on role=web",
    build: (v) => ({ name: "revoke", subject: str(v.subject), role: str(v.role), scope: scopeOf(list(v.scope)) }),
  },
  {
    path: ["access"],
    ...summary("command.access.summary"),
    args: [],
    build: () => ({ name: "access" }),
  },
  {
    path: ["whoami"],
    ...summary("command.whoami.summary"),
    args: [],
    build: () => ({ name: "whoami" }),
  },
  {
    path: ["approve"],
    ...summary("command.approve.summary"),
    args: [{ name: "job", kind: "int", ...described("arg.job") }],
    example: "/testum approve 42",
    build: (v) => ({ name: "approve", job: Number(v.job) }),
  },
  {
    path: ["reject"],
    ...summary("command.reject.summary"),
    args: [
      { name: "job", kind: "int", ...described("arg.job") },
      { name: "reason", kind: "rest", ...described("command.reject.arg.reason"), optional: true },
    ],
    example: "/testum reject 42 not during business hours",
    build: (v) => ({ name: "reject", job: Number(v.job), reason: optStr(v.reason) }),
  },
  {
    path: ["audit"],
    ...summary("command.audit.summary"),
    args: [{ name: "filters", kind: "list", ...described("command.audit.arg.filters"), optional: true }],
    example: "/testum audit host=db-1 since=24h",
    build: (v) => ({ name: "audit", filters: list(v.filters) }),
  },
  {
    path: ["risk", "list"],
    ...summary("command.risk.list.summary"),
    args: [],
    build: () => ({ name: "risk.list" }),
  },
  {
    path: ["risk", "add"],
    ...summary("command.risk.add.summary"),
    args: [
      { name: "pattern", kind: "word", ...described("command.risk.add.arg.pattern") },
      { name: "description", kind: "rest", ...described("command.risk.add.arg.description") },
    ],
    example: "/testum risk add '\\bpg_ctl\\s+stop\\b' stopping PostgreSQL",
    build: (v) => ({ name: "risk.add", pattern: str(v.pattern), description: str(v.description) }),
  },
  {
    path: ["risk", "rm"],
    ...summary("command.risk.rm.summary"),
    args: [{ name: "id", kind: "int", ...described("command.risk.rm.arg.id") }],
    build: (v) => ({ name: "risk.rm", id: Number(v.id) }),
  },
  {
    path: ["redact", "list"],
    ...summary("command.redact.list.summary"),
    args: [],
    build: () => ({ name: "redact.list" }),
  },
  {
    path: ["redact", "add"],
    ...summary("command.redact.add.summary"),
    args: [
      { name: "name", kind: "word", ...described("command.redact.add.arg.name") },
      { name: "pattern", kind: "word", ...described("command.redact.add.arg.pattern") },
    ],
    example: "/testum redact add acme_key 'acme_[A-Za-z0-9]{32}'",
    build: (v) => ({ name: "redact.add", redaction: str(v.name).toLowerCase(), pattern: str(v.pattern) }),
  },
  {
    path: ["redact", "rm"],
    ...summary("command.redact.rm.summary"),
    args: [{ name: "name", kind: "word", ...described("command.redact.rm.arg.name") }],
    build: (v) => ({ name: "redact.rm", redaction: str(v.name).toLowerCase() }),
  },
  {
    path: ["schedule", "add"],
    ...summary("command.schedule.add.summary"),
    args: [
      { name: "cron", kind: "word", ...described("command.schedule.add.arg.cron") },
      { name: "target", kind: "target", ...described("arg.target_tags"), complete: "target" },
      { name: "command", kind: "rest", ...described("command.schedule.add.arg.command") },
    ],
    flags: [
      { name: "tz", kind: "word", ...described("command.schedule.add.flag.tz"), maxLength: 64 },
      { name: "name", kind: "word", ...described("command.schedule.add.flag.name"), maxLength: 64 },
      { name: "on-change", kind: "boolean", ...described("command.schedule.add.flag.on_change") },
      { name: "timeout", kind: "duration", ...described("flag.timeout"), min: 1000, max: 86_400_000 },
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
    path: ["schedule", "rb"],
    ...summary("command.schedule.rb.summary"),
    args: [{ name: "cron", kind: "word", ...described("command.schedule.add.arg.cron") }, RUNBOOK_ARG, PARAMS_ARG],
    flags: [
      { name: "tz", kind: "word", ...described("command.schedule.add.flag.tz"), maxLength: 64 },
      { name: "name", kind: "word", ...described("command.schedule.add.flag.name"), maxLength: 64 },
      { name: "on-change", kind: "boolean", ...described("command.schedule.add.flag.on_change") },
      { name: "timeout", kind: "duration", ...described("flag.timeout"), min: 1000, max: 86_400_000 },
    ],
    example: `/testum schedule rb "0 7 * * *" disk-usage path=/var --name disk`,
    build: (v) => ({
      name: "schedule.rb",
      cron: str(v.cron),
      runbook: str(v.runbook).toLowerCase(),
      params: pairs(v.params),
      timezone: optStr(v.tz),
      label: optStr(v.name),
      onChange: v["on-change"] === true ? true : undefined,
      timeoutMs: v.timeout as number | undefined,
    }),
  },
  {
    path: ["schedule", "list"],
    ...summary("command.schedule.list.summary"),
    args: [],
    build: () => ({ name: "schedule.list" }),
  },
  ...(["show", "rm", "pause", "resume", "run"] as const).map(
    (verb): Spec => ({
      path: ["schedule", verb],
      ...summary(`command.schedule.${verb}.summary` as const),
      args: [{ name: "schedule", kind: "int", ...described("arg.schedule") }],
      build: (v) => ({ name: `schedule.${verb}`, schedule: Number(v.schedule) }),
    }),
  ),
  {
    path: ["rb"],
    ...summary("command.rb.summary"),
    args: [RUNBOOK_ARG, PARAMS_ARG],
    flags: RUN_FLAGS,
    example: "/testum rb restart service=nginx",
    build: (v) => ({ name: "rb", runbook: str(v.runbook).toLowerCase(), params: pairs(v.params), ...runFlags(v) }),
  },
  {
    path: ["runbook", "add"],
    ...summary("command.runbook.add.summary"),
    args: [
      { name: "runbook", kind: "word", ...described("command.runbook.add.arg.runbook") },
      { name: "target", kind: "target", ...described("arg.target_tags"), complete: "target" },
      { name: "command", kind: "rest", ...described("command.runbook.add.arg.command") },
    ],
    flags: [
      { name: "description", kind: "word", ...described("command.runbook.add.flag.description"), maxLength: 300 },
      { name: "approval", kind: "word", ...described("command.runbook.add.flag.approval"), choices: ["auto", "always", "reviewed"] },
      { name: "role", kind: "word", ...described("command.runbook.add.flag.role"), choices: ["viewer", "operator", "approver", "admin"] },
      { name: "timeout", kind: "duration", ...described("flag.timeout"), min: 1000, max: 7 * 86_400_000 },
      { name: "replace", kind: "boolean", ...described("command.runbook.add.flag.replace") },
    ],
    example: `/testum runbook add restart role=web 'sudo systemctl restart {service:enum(nginx,php-fpm)}' --description 'Restart a web service'`,
    build: (v) => ({
      name: "runbook.add",
      runbook: str(v.runbook).toLowerCase(),
      target: str(v.target),
      command: str(v.command),
      description: optStr(v.description),
      approval: optStr(v.approval),
      role: optStr(v.role),
      timeoutMs: v.timeout as number | undefined,
      replace: v.replace === true ? true : undefined,
    }),
  },
  {
    path: ["runbook", "list"],
    ...summary("command.runbook.list.summary"),
    args: [],
    build: () => ({ name: "runbook.list" }),
  },
  ...(["show", "rm"] as const).map(
    (verb): Spec => ({
      path: ["runbook", verb],
      ...summary(`command.runbook.${verb}.summary` as const),
      args: [RUNBOOK_ARG],
      build: (v) => ({ name: `runbook.${verb}`, runbook: str(v.runbook).toLowerCase() }),
    }),
  ),
  {
    path: ["help"],
    ...summary("command.help.summary"),
    args: [{ name: "topic", kind: "word", ...described("command.help.arg.topic"), optional: true }],
    example: "/testum help run",
    build: (v) => ({ name: "help", topic: optStr(v.topic) }),
  },
];
