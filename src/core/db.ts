import { AsyncLocalStorage } from "node:async_hooks";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import shift from "postgres-shift";
import { within } from "./concurrency.js";
import type { Logger } from "./jobs/log.js";

/** The SQL tag every repository function takes first; works inside `sql.begin`. */
export type Sql = postgres.Sql<{}>;

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));

export interface ConnectOptions {
  max?: number;
  /** The pool's name in pg_stat_activity (application_name; default `testum`). */
  name?: string;
  /** Called with the reason when Postgres cannot be reached. */
  onError?: (err: Error) => void;
  /**
   * Keeps idle connections open (a server's pool): the connections a burst
   * opened are still there for the next one, even after a quiet minute,
   * instead of being opened again while it waits. Without it, a connection
   * idle for a minute is closed.
   */
  keepOpen?: boolean;
  /**
   * A server's limits (see SERVER_LIMITS): a statement that runs, or waits for a lock, longer
   * is cancelled by Postgres, so a table someone locked by hand never holds a request for good.
   */
  limits?: { readonly statementMs: number; readonly lockMs: number };
}

/**
 * What testum's server pools allow one statement: a minute in all, ten seconds of it waiting for
 * a lock. testum's own statements take milliseconds, and its locks are held as briefly.
 */
export const SERVER_LIMITS = { statementMs: 60_000, lockMs: 10_000 } as const;

/**
 * A session left idle inside a transaction this long is ended by Postgres,
 * which frees its connection and its locks: a transaction only ever waits on
 * the database, so one idle this long was abandoned.
 */
export const IDLE_IN_TRANSACTION_MS = 15_000;

export function connect(url: string, options: ConnectOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: options.keepOpen ? 0 : 60,
    // Either way each connection is replaced after 30 to 60 minutes (postgres.js's max_lifetime).
    connection: {
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
      application_name: options.name ?? "testum",
      ...(options.limits ? { statement_timeout: options.limits.statementMs, lock_timeout: options.limits.lockMs } : {}),
    },
    // Ids are bigserial but stay far below 2^53: read int8 as a number.
    types: { int8: { to: 20, from: [20], serialize: (n: number) => String(n), parse: (s: string) => Number(s) } },
    // Column names become camelCase; jsonb keys are left exactly as stored.
    transform: { column: { from: postgres.toCamel, to: postgres.fromCamel }, undefined: null },
  }) as unknown as Sql;
}

/**
 * Opens up to `count` of the pool's connections now (at most its size) and
 * leaves them open, idle: a server's pool that starts warm, so that the first
 * burst of commands does not wait for PostgreSQL to start a backend for each
 * connection it needs. Each is reserved, then all are handed back; bounded by
 * `timeoutMs` (a connection that opens later goes straight back to the pool).
 */
export async function warmPool(sql: Sql, count: number, timeoutMs = 5000): Promise<void> {
  const held: Array<{ release(): void }> = [];
  let done = false;
  const n = Math.min(count, sql.options.max);
  const reserving = Array.from({ length: n }, () =>
    sql.reserve().then(
      (reserved) => {
        if (done) reserved.release();
        else held.push(reserved);
      },
      () => {},
    ),
  );
  await within(Promise.all(reserving), timeoutMs, undefined);
  done = true;
  for (const reserved of held) reserved.release();
}

/** How often a warm pool is topped up: postgres.js replaces each connection after 30 to 60 minutes. */
const WARM_AGAIN_MS = 10 * 60_000;

/**
 * A running testum's pool: idle connections stay open (`keepOpen`), and `warm`
 * of them are opened now and topped up every ten minutes (see warmPool), so
 * replaced connections open then rather than under a burst. `close` stops the
 * top-ups and ends the pool.
 */
export async function openServerPool(url: string, warm: number, name?: string): Promise<{ sql: Sql; close(): Promise<void> }> {
  const sql = connect(url, { keepOpen: true, limits: SERVER_LIMITS, ...(name ? { name } : {}) });
  let timer: NodeJS.Timeout | undefined;
  if (warm > 0) {
    await warmPool(sql, warm);
    timer = setInterval(() => void warmPool(sql, warm), WARM_AGAIN_MS);
    timer.unref();
  }
  return {
    sql,
    close() {
      clearInterval(timer);
      return sql.end({ timeout: 5 });
    },
  };
}

const transactions = new AsyncLocalStorage<true>();

/** How long a transaction waits for a pooled connection before it gives up. */
export const ACQUIRE_TIMEOUT_MS = 10_000;

/** No pooled connection became free in time: the database is overloaded or out of reach. */
export class DatabaseBusyError extends Error {
  readonly code = "database_busy";
  constructor(waitedMs: number) {
    super(`no database connection became free within ${waitedMs} ms`);
    this.name = "DatabaseBusyError";
  }
}

/**
 * Runs `body` in one database transaction. The body gets only the SQL
 * handle: it reads and writes the database and nothing else. A network call
 * (SSH, S3, chat, HTTP) made while the transaction is open would hold a
 * pooled connection for as long as the remote side takes, and a remote side
 * that itself needs the database could then wait forever for a connection
 * that never frees; `assertNoTransaction` makes every such door refuse.
 *
 * If no connection is free within `acquireTimeoutMs`, the call fails with
 * DatabaseBusyError; should the connection come later, the transaction is
 * rolled back without running `body`.
 */
export function transaction<T>(sql: Sql, body: (tx: Sql) => Promise<T>, options: { acquireTimeoutMs?: number } = {}): Promise<T> {
  const waitMs = options.acquireTimeoutMs ?? ACQUIRE_TIMEOUT_MS;
  return new Promise<T>((resolve, reject) => {
    let abandoned = false;
    const timer = setTimeout(() => {
      abandoned = true;
      reject(new DatabaseBusyError(waitMs));
    }, waitMs);
    sql
      .begin(async (tx) => {
        clearTimeout(timer);
        if (abandoned) throw new DatabaseBusyError(waitMs);
        return transactions.run(true, () => body(tx as unknown as Sql));
      })
      .then(
        (value) => resolve(value as T),
        (err: unknown) => {
          clearTimeout(timer);
          if (!abandoned) reject(err);
        },
      );
  });
}

/** True while the calling code runs inside `transaction`'s body. */
export function inTransaction(): boolean {
  return transactions.getStore() === true;
}

/**
 * Called by every door to the network (SSH, S3, chat): refuses to start
 * network I/O inside a database transaction (see `transaction`).
 */
export function assertNoTransaction(what: string): void {
  if (inTransaction()) throw new Error(`${what} was started inside a database transaction; network calls must happen before or after it`);
}

/**
 * Creates the database named in `url` when it does not exist yet (the role
 * must be allowed to). Safe when several processes start at once.
 */
/** Whether the database a URL names exists (asked of the server's `postgres` database). */
export async function databaseExists(url: string): Promise<{ name: string; exists: boolean }> {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
  if (name === "") return { name, exists: true };
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const [row] = await sql`select 1 as present from pg_database where datname = ${name}`;
    return { name, exists: row !== undefined };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

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
