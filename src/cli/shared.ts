import { userInfo } from "node:os";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "../core/config.js";
import { loadConfig, type Config } from "../config.js";
import { connect, databaseExists, migrate, type Sql } from "../core/db.js";
import type { Logger, RemoteAccess } from "../core/ports.js";
import { createSecretBox, type SecretBox } from "../core/hosts/secret-box.js";
import { createLogger } from "../logger.js";

/** A CLI verb: its help text and what it does with the arguments after it. */
/**
 * A hint written for chat, said the way the command line takes it: a chat
 * command the CLI also has becomes its CLI form (`/testum hosts repin web-1`
 * → `testum hosts repin web-1`; a group named alone, `/testum hosts`, becomes
 * its list verb). Commands only chat has (run, jobs …) stay as chat writes
 * them: chat is where they work.
 */
export function forCommandLine(text: string, verbs: ReadonlyArray<{ readonly name: string; readonly verbs?: ReadonlyArray<{ readonly name: string }> | undefined }>): string {
  return text.replace(/\/testum ([a-z-]+)(?: ([a-z-]+))?/g, (whole, name: string, next: string | undefined) => {
    const verb = verbs.find((v) => v.name === name);
    if (!verb) return whole;
    if (!verb.verbs) return `testum ${name}${next ? ` ${next}` : ""}`;
    if (next && verb.verbs.some((v) => v.name === next)) return `testum ${name} ${next}`;
    if (verb.verbs.some((v) => v.name === "list")) return `testum ${name} list${next ? ` ${next}` : ""}`;
    return whole;
  });
}

export interface Verb {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  /** A group's own verbs (`hosts` → add, list, …). */
  readonly verbs?: readonly Verb[];
  run(args: string[]): Promise<number | void>;
}

/** Bad CLI usage: printed with the verb's help, exit code 2. */
export class CliUsageError extends Error {
  constructor(
    message: string,
    readonly help?: string,
  ) {
    super(message);
    this.name = "CliUsageError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values<O extends Options> = {
  -readonly [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : O[K]["multiple"] extends true ? string[] : string;
} & { help?: boolean };

/** Parses a verb's arguments strictly; `--help` is always understood. */
export function parseVerbArgs<O extends Options>(verb: Pick<Verb, "help">, args: string[], options: O, positionals = 0): { values: Values<O>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true }) as {
      values: Values<O>;
      positionals: string[];
    };
    if (parsed.positionals.length > positionals && !parsed.values.help) {
      throw new CliUsageError(`unexpected argument "${parsed.positionals[positionals]}"`, verb.help);
    }
    return parsed;
  } catch (err) {
    if (err instanceof CliUsageError) throw err;
    throw new CliUsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ""), verb.help);
  }
}

/** The identity CLI actions are audited under. */
export function cliActor(): string {
  return `cli:${userInfo().username}`;
}

export interface Context {
  readonly config: Config;
  readonly sql: Sql;
  readonly log: Logger;
  /** Opens stored secrets: the current master key, and the previous one during a rotation. */
  readonly box: SecretBox;
  /** SSH access to hosts, loaded on first use. */
  remote(): Promise<RemoteAccess>;
}

/** Stops with the database's name and where it was looked for when it does not exist. */
async function requireDatabase(url: string): Promise<void> {
  const { name, exists } = await databaseExists(url);
  if (exists) return;
  const where = new URL(url);
  where.password = where.password ? "***" : "";
  throw new ConfigError([
    `DATABASE_URL: the database "${name}" does not exist (${where.toString()}). Run this command with the server's environment (the DATABASE_URL testum runs with); testum migrate or testum start create a new database.`,
  ]);
}

/** Loads configuration, checks the database, and runs `body` with a connection. */
export async function withDatabase<T>(body: (ctx: Context) => Promise<T>): Promise<T> {
  // Only migrate, start, serve and worker make a database or a master key: any other command
  // works on the server's, and says so when this environment names another.
  const config = loadConfig(undefined, { createKey: false });
  const log = createLogger(process.stderr.isTTY ? "warn" : config.LOG_LEVEL === "info" ? "warn" : config.LOG_LEVEL, { format: config.LOG_FORMAT, fd: 2 });
  await requireDatabase(config.DATABASE_URL);
  const applied = await migrate(config.DATABASE_URL);
  if (applied.length > 0) log.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
  const sql = connect(config.DATABASE_URL, { max: 8 });
  const box = createSecretBox(config.previousMasterKey ? [config.masterKey, config.previousMasterKey] : [config.masterKey]);
  let remote: RemoteAccess | undefined;
  try {
    return await body({
      config,
      sql,
      log,
      box,
      async remote() {
        remote ??= (await import("../adapters/ssh/remote.js")).createRemoteAccess({ sql, box });
        return remote;
      },
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export function printJsonLines(rows: readonly unknown[]): void {
  for (const row of rows) process.stdout.write(JSON.stringify(row) + "\n");
}

/** Left-aligned columns for people. */
export function printTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  process.stdout.write(line(header) + "\n");
  for (const row of rows) process.stdout.write(line(row) + "\n");
}

/** Prints per-host outcomes, failures first; returns the exit code (1 when any failed). */
export function printOutcomes(outcomes: ReadonlyArray<{ host: string; ok: boolean; summary: string }>): number {
  const sorted = [...outcomes].sort((a, b) => Number(a.ok) - Number(b.ok));
  printTable(
    ["", "HOST", "RESULT"],
    sorted.map((o) => [o.ok ? "ok" : "FAILED", o.host, o.summary]),
  );
  return outcomes.every((o) => o.ok) ? 0 : 1;
}
