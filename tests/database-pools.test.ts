import { afterAll, expect, it } from "vitest";
import { connect, warmPool } from "../src/core/db.js";
import { createTestDatabase } from "./helpers/db.js";
import { startTestumForTest } from "./helpers/testum.js";

/**
 * A running testum's database pools start warm (DATABASE_WARM_CONNECTIONS):
 * the connections are open before the first command, so a first burst does
 * not wait for PostgreSQL to start a backend for each.
 */

const dbs: Array<{ url: string; drop(): Promise<void> }> = [];
afterAll(async () => {
  await Promise.all(dbs.map((db) => db.drop().catch(() => {})));
});

async function openConnections(url: string): Promise<Record<string, number>> {
  const probe = connect(url, { max: 1, name: "pool-probe" });
  try {
    const rows = await probe<Array<{ app: string; n: number }>>`
      select application_name as app, count(*)::int as n from pg_stat_activity where datname = current_database() group by 1`;
    return Object.fromEntries(rows.map((r) => [r.app, r.n]));
  } finally {
    await probe.end({ timeout: 5 });
  }
}

it("opens the connections of the web side's pool and the worker's at start, and none when set to 0", async () => {
  const [warm, cold] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  dbs.push(warm, cold);
  const [warmTestum, coldTestum] = await Promise.all([
    startTestumForTest({ databaseUrl: warm.url, env: { DATABASE_WARM_CONNECTIONS: "4" } }),
    startTestumForTest({ databaseUrl: cold.url, env: { DATABASE_WARM_CONNECTIONS: "0" } }),
  ]);
  try {
    const [opened, notOpened] = await Promise.all([openConnections(warm.url), openConnections(cold.url)]);
    expect(opened["testum-web"]).toBe(4);
    expect(opened.testum).toBeGreaterThanOrEqual(4);
    expect(notOpened["testum-web"] ?? 0).toBe(0);
  } finally {
    await Promise.all([warmTestum.stop(), coldTestum.stop()]);
  }
});

it("opens no more than the pool holds, and gives every connection back", async () => {
  const db = await createTestDatabase();
  dbs.push(db);
  const sql = connect(db.url, { max: 3, name: "pool-under-test" });
  try {
    await warmPool(sql, 10);
    expect((await openConnections(db.url))["pool-under-test"]).toBe(3);
    // Given back: a connection still reserved would leave these waiting for the test's time limit.
    const answers = await Promise.all([1, 2, 3].map((n) => sql<Array<{ n: number }>>`select ${n}::int as n, pg_sleep(0.05)`));
    expect(answers.map(([row]) => row!.n)).toEqual([1, 2, 3]);
  } finally {
    await sql.end({ timeout: 5 });
  }
});
