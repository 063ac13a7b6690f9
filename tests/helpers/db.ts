import { randomBytes } from "node:crypto";
import postgres from "postgres";

/** The machine's PostgreSQL, as the tests reach it. */
export const PG_BASE = "postgres://postgres@127.0.0.1:5432";

export function databaseUrl(name: string): string {
  return `${PG_BASE}/${name}`;
}

/** The migrated template the global setup made for this run. */
function templateName(): string {
  const name = process.env.TESTUM_TEST_TEMPLATE;
  if (!name) throw new Error("TESTUM_TEST_TEMPLATE is not set: run the tests through vitest (tests/helpers/global-setup.ts)");
  return name;
}

/**
 * A fresh database for one test file, copied from the migrated template that
 * the global setup made. Drop it when done.
 */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  // The creation time in the name keeps another run's sweep (global-setup.ts) off it for a day,
  // also between two connections (the CLI tests reconnect for every command).
  const name = `testum_t_${Math.floor(Date.now() / 1000)}_${randomBytes(5).toString("hex")}`;
  const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.unsafe(`create database ${name} template ${templateName()}`);
        break;
      } catch (err) {
        // Another file copying the template at the same moment: try again.
        if ((err as { code?: string }).code !== "55006" || attempt > 20) throw err;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  // An idle connection held until drop(): a database in use is never swept, whatever
  // version of the sweep another run has.
  const hold = postgres(databaseUrl(name), { max: 1, onnotice: () => {} });
  await hold`select 1`;
  return {
    url: databaseUrl(name),
    name,
    async drop() {
      await hold.end({ timeout: 5 });
      const sql = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await sql.end();
      }
    },
  };
}
