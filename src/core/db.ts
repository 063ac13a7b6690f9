import { fileURLToPath } from "node:url";
import postgres from "postgres";
import shift from "postgres-shift";
import type { Logger } from "./log.js";

/** The SQL tag every repository function takes first; works inside `sql.begin`. */
export type Sql = postgres.Sql<{}>;

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));

export interface ConnectOptions {
  max?: number;
  /** Called with the reason when Postgres cannot be reached. */
  onError?: (err: Error) => void;
}

export function connect(url: string, options: ConnectOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 60,
    // Ids are bigserial but stay far below 2^53: read int8 as a number.
    types: { int8: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (s: string) => Number(s) } },
    // Column names become camelCase; jsonb keys are left exactly as stored.
    transform: { column: { from: postgres.toCamel, to: postgres.fromCamel }, undefined: null },
  }) as unknown as Sql;
}

/**
 * Creates the database named in `url` when it does not exist yet (the role
 * must be allowed to). Safe when several processes start at once.
 */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ""));
  if (name === "") return;
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const [row] = await sql`select 1 as present from pg_database where datname = ${name}`;
    if (row) return;
    await sql.unsafe(`create database ${quoteIdent(name)}`).catch((err: { code?: string }) => {
      if (err.code !== "42P04") throw err; // duplicate_database: another process won the race
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Applies pending migrations from migrations/, one transaction for the batch,
 * under an advisory lock so concurrent starts apply each migration once.
 * Returns the names of the migrations applied.
 */
export async function migrate(url: string): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  const applied: string[] = [];
  try {
    await sql`select pg_advisory_lock(hashtext('testum:migrate'))`;
    try {
      await shift({ sql, path: MIGRATIONS_DIR, after: (m) => applied.push(`${String(m.migration_id).padStart(5, "0")} ${m.name}`) });
    } finally {
      await sql`select pg_advisory_unlock(hashtext('testum:migrate'))`;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  return applied;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Creates the database if missing and applies pending migrations. */
export async function prepareDatabase(url: string, log: Logger): Promise<void> {
  await ensureDatabase(url);
  const applied = await migrate(url);
  if (applied.length > 0) log.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
}
