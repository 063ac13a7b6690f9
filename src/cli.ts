import { readFileSync } from "node:fs";
import { auditJob, listAudit } from "./core/access/audit.js";
import { ConfigError } from "./core/config.js";
import { loadConfig } from "./config.js";
import { migrate, ensureDatabase } from "./core/db.js";
import { parseDuration } from "./core/duration.js";
import { isTestumError } from "./core/errors.js";
import { closestWord } from "./core/commands/suggest.js";
import { ACCESS_VERBS, auditVerify } from "./cli/access.js";
import { redactVerb } from "./cli/redaction.js";
import { DISCORD_VERBS } from "./cli/discord.js";
import { SLACK_VERBS } from "./cli/slack.js";
import { HOST_VERBS } from "./cli/hosts.js";
import { HOST_REMOTE_VERBS } from "./cli/hosts-remote.js";
import { identityVerb, secretsVerb } from "./cli/identity.js";
import { KEY_VERBS } from "./cli/keys.js";
import { RUNBOOK_VERBS } from "./cli/runbooks.js";
import { CliUsageError, forCommandLine, parseVerbArgs, printJsonLines, printTable, withDatabase, type Verb } from "./cli/shared.js";
import { createLogger } from "./logger.js";
import type { RunOptions } from "./runtime.js";
import { formatTime } from "./core/chat/time.js";

const MAIN_HELP = `testum: chat-ops for operations teams.

Usage: testum <command> [options]      (testum help <command>, or testum <command> --help, for details)
       testum --version

Running testum
  start          web side and worker in one process (what npm start runs)
  serve          only the web side: chat endpoints, log links, health
  worker         only the worker: takes jobs off the queue and runs them over SSH
  migrate        create the database if needed and apply migrations

Managing testum
  hosts          add, list, show, tag, test, repin, import and remove hosts
  keys           the team's public keys, deployed into hosts' authorized_keys
  identity       print or rotate testum's own SSH key
  secrets        re-encrypt stored secrets under a new master key
  grant, revoke  give or take back a role (viewer, operator, free-form, approver, admin)
  access         list role bindings
  risk           the patterns that make a command need approval
  redact         the patterns hidden in command output (besides the built-ins)
  runbook        agreed commands with typed parameters; YAML export and import
  audit          read and verify the audit log
  slack          print the Slack app manifest (one paste sets up the app)
  discord        print the link that adds testum to a server; register /testum

Configuration comes from the environment; see README.md.`;

function processVerb(name: string, summary: string, options: Omit<RunOptions, "log">): Verb {
  const help = `Usage: testum ${name}

${summary}. On SIGINT or SIGTERM it takes no new requests or jobs, lets running
commands finish for up to TESTUM_SHUTDOWN_GRACE (default 30s), then stops them
(TERM, then KILL, on every host) and exits; a second signal exits at once.`;
  return {
    name,
    summary,
    help,
    async run(args) {
      const { values } = parseVerbArgs(this, args, {});
      if (values.help) return void console.log(help);
      const config = loadConfig();
      const log = createLogger(config.LOG_LEVEL, { format: config.LOG_FORMAT });
      // Loaded only here: the chat and cloud SDKs take a while to import.
      const { startTestum } = await import("./runtime.js");
      const running = await startTestum(config, { ...options, log });
      const signal = await new Promise<string>((resolve) => {
        process.once("SIGINT", () => resolve("SIGINT"));
        process.once("SIGTERM", () => resolve("SIGTERM"));
      });
      log.info({ signal, graceMs: config.TESTUM_SHUTDOWN_GRACE }, "stopping: no new requests or jobs; running commands may finish within TESTUM_SHUTDOWN_GRACE");
      // A second signal, or a stop that overruns every bound, ends the process at once.
      const now = (code: number, why: string) => {
        log.error({}, why);
        process.exit(code);
      };
      process.once("SIGINT", () => now(130, "stopping at once (second signal)"));
      process.once("SIGTERM", () => now(143, "stopping at once (second signal)"));
      setTimeout(() => now(1, "shutdown did not finish in time; exiting anyway"), config.TESTUM_SHUTDOWN_GRACE + 90_000).unref();
      await running.stop();
      log.info({}, "stopped");
      // Whatever a library still holds open (a socket to a host that never answers) does not keep the process.
      setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
    },
  };
}

const migrateVerb: Verb = {
  name: "migrate",
  summary: "create the database if needed and apply migrations",
  help: `Usage: testum migrate

Creates the database named in DATABASE_URL if it does not exist, then applies
the migrations in migrations/ that have not been applied. Safe to run while
other testum processes start: migrations are applied under a lock.`,
  async run(args) {
    const { values } = parseVerbArgs(this, args, {});
    if (values.help) return void console.log(this.help);
    const config = loadConfig();
    await ensureDatabase(config.DATABASE_URL);
    const applied = await migrate(config.DATABASE_URL);
    console.log(applied.length === 0 ? "The database is up to date." : `Applied:\n  ${applied.join("\n  ")}`);
  },
};

const AUDIT_LIST_HELP = `Usage: testum audit list [--json] [--limit N] [--user ID] [--host NAME] [--action A] [--since DATE|DURATION]

Prints the audit log, oldest first: who did what, where, to what, and how it ended.
  --json       one JSON object per line
  --limit N    the last N matching entries (default 100)
  --user ID    by this identity (or display name)
  --host NAME  about this host (or other target)
  --action A   this action, or a family of them (job, host, keys, approval …)
  --since X    from a date (2026-11-01) or a duration ago (24h)`;

const auditList: Verb = {
  name: "list",
  summary: "print the audit log",
  help: AUDIT_LIST_HELP,
  async run(args) {
    const { values } = parseVerbArgs(this, args, {
      json: { type: "boolean" },
      limit: { type: "string" },
      user: { type: "string" },
      host: { type: "string" },
      action: { type: "string" },
      since: { type: "string" },
    });
    if (values.help) return void console.log(AUDIT_LIST_HELP);
    const limit = values.limit === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new CliUsageError(`--limit expects a positive whole number, got "${values.limit}"`, AUDIT_LIST_HELP);
    let since: Date | undefined;
    if (values.since) {
      const ago = parseDuration(values.since);
      since = ago !== undefined ? new Date(Date.now() - ago) : new Date(values.since);
      if (Number.isNaN(since.getTime())) throw new CliUsageError(`--since expects a date or a duration, got "${values.since}"`, AUDIT_LIST_HELP);
    }
    await withDatabase(async ({ sql }) => {
      const rows = await listAudit(sql, { limit, actor: values.user, target: values.host, action: values.action, since });
      if (values.json) return printJsonLines(rows.map((r) => ({ ...r, at: r.at.toISOString() })));
      printTable(
        ["ID", "AT", "ACTOR", "ACTION", "TARGET", "OUTCOME", "JOB"],
        rows.map((r) => {
          const job = auditJob(r.detail);
          return [String(r.id), formatTime(r.at, "seconds"), r.actorName ? `${r.actor} (${r.actorName})` : r.actor, r.action, r.target ?? "-", r.outcome, job ? `#${job}` : "-"];
        }),
      );
    });
  },
};

/** A verb made of subverbs: `testum hosts add …`. */
function group(name: string, summary: string, verbs: readonly Verb[]): Verb {
  const help = `Usage: testum ${name} <${verbs.map((v) => v.name).join("|")}> [options]

${verbs.map((v) => `  ${v.name.padEnd(10)} ${v.summary}`).join("\n")}

testum ${name} <command> --help shows a command's options.`;
  return {
    name,
    summary,
    help,
    verbs,
    async run(args) {
      const [sub, ...rest] = args;
      if (sub === undefined || sub === "--help" || sub === "-h") return void console.log(help);
      if (sub === "help") return void console.log(helpOf([name, ...rest]) ?? help);
      const verb = verbs.find((v) => v.name === sub);
      if (!verb) throw new CliUsageError(unknown([name, sub], verbs));
      return verb.run(rest);
    },
  };
}

const VERBS: readonly Verb[] = [
  processVerb("start", "Runs the web side and the worker in one process", { serve: true, work: true }),
  processVerb("serve", "Runs the web side: chat endpoints, log links, health checks", { serve: true, work: false }),
  processVerb("worker", "Runs a worker: takes jobs off the queue and runs them over SSH", { serve: false, work: true }),
  migrateVerb,
  group("hosts", "add, list, show, tag, test, repin, import and remove hosts", [...HOST_VERBS, ...HOST_REMOTE_VERBS]),
  group("keys", "the team's public keys and their deployment to hosts", KEY_VERBS),
  identityVerb,
  secretsVerb,
  group("audit", "read and verify the audit log", [auditList, auditVerify]),
  ...ACCESS_VERBS,
  redactVerb,
  group("runbook", "agreed commands with typed parameters; export and import as YAML", RUNBOOK_VERBS),
  group("slack", "the Slack app testum needs, as a manifest to paste", SLACK_VERBS),
  group("discord", "the link that adds testum to a server; register the /testum command", DISCORD_VERBS),
];

/** The help of `testum help WORD…`: a command's, or a group's command's; undefined for an unknown one. */
function helpOf(words: readonly string[]): string | undefined {
  let verbs: readonly Verb[] = VERBS;
  let help: string | undefined;
  for (const word of words) {
    const verb = verbs.find((v) => v.name === word);
    if (!verb) return undefined;
    help = verb.help;
    verbs = verb.verbs ?? [];
  }
  return help;
}

/** "unknown command", with the command a typo most likely meant and where the list is. */
function unknown(words: readonly string[], among: readonly Verb[]): string {
  const typed = words.at(-1)!;
  const parent = words.slice(0, -1);
  const suggestion = closestWord(
    typed,
    among.map((v) => v.name),
  );
  const list = parent.length > 0 ? `testum ${parent.join(" ")} --help` : "testum --help";
  const guess = suggestion ? ` Did you mean "testum ${[...parent, suggestion].join(" ")}"?` : "";
  return `unknown command "${words.join(" ")}".${guess} ${list} lists the commands.`;
}

/** The version in package.json (next to src/ and dist/ alike). */
function version(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/** `testum … | head`: once the reader has gone, stop quietly (exit 0), as other command-line tools do. */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}

async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  const [name, ...rest] = argv;
  if (name === "help" && rest.length > 0) {
    const help = helpOf(rest);
    if (help === undefined) {
      // Name the first word that is not known, among the commands it could have been.
      const words = rest.slice(0, rest.findIndex((_, i) => helpOf(rest.slice(0, i + 1)) === undefined) + 1);
      const among = words.length > 1 ? (VERBS.find((v) => v.name === words[0])?.verbs ?? []) : VERBS;
      console.error(`testum: ${unknown(words, among)}`);
      return 2;
    }
    console.log(help);
    return 0;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(MAIN_HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    console.log(`testum ${version()}`);
    return 0;
  }
  const verb = VERBS.find((v) => v.name === name);
  if (!verb) {
    console.error(`testum: ${unknown([name], VERBS)}`);
    return 2;
  }
  try {
    return (await verb.run(rest)) ?? 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`testum: ${err.message}`);
      return 2;
    }
    if (err instanceof CliUsageError) {
      console.error(`testum: ${err.message}${err.help ? `\n\n${err.help}` : ""}`);
      return 2;
    }
    if (isTestumError(err)) {
      console.error(`testum: ${forCommandLine(err.message, VERBS)}`);
      return 1;
    }
    console.error(`testum: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
