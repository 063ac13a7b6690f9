import { execFile } from "node:child_process";
import { promisify } from "node:util";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendAudits, chainPendingAudits, noteAudits, recordAudit, verifyAudit } from "../src/core/access/audit.js";
import { connect, transaction, type Sql } from "../src/core/db.js";
import { createTestDatabase } from "./helpers/db.js";
import { eventually, TEST_MASTER_KEY } from "./helpers/testum.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: Sql;
/** A superuser connection, as someone tampering with the database would have. */
let raw: postgres.Sql;

async function cliVerify(): Promise<{ code: number; stdout: string }> {
  try {
    const res = await promisify(execFile)(process.execPath, ["bin/testum.js", "audit", "verify"], {
      env: { ...process.env, DATABASE_URL: db.url, TESTUM_MASTER_KEY: TEST_MASTER_KEY },
      encoding: "utf8",
    });
    return { code: 0, stdout: res.stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, stdout: e.stdout };
  }
}

async function tamper(statement: string): Promise<void> {
  await raw.begin(async (tx) => {
    await tx.unsafe("alter table audit disable trigger audit_append_only");
    await tx.unsafe(statement);
    await tx.unsafe("alter table audit enable trigger audit_append_only");
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  sql = connect(db.url, { max: 4 });
  raw = postgres(db.url, { max: 1, onnotice: () => {} });
  for (let i = 1; i <= 8; i++) {
    await recordAudit(sql, {
      actor: `slack:T1:U${i}`,
      actorName: `user ${i}`,
      action: "job.request",
      target: `web-${i}`,
      outcome: "accepted",
      detail: { job: i, nested: { b: 2, a: [1, "x"] } },
    });
  }
});

afterAll(async () => {
  await sql?.end();
  await raw?.end();
  await db?.drop();
});

describe("the tamper-evident audit log", () => {
  it("verifies an intact chain, also with appends racing each other", async () => {
    await Promise.all(Array.from({ length: 12 }, (_, i) => recordAudit(sql, { actor: "system", action: "help", outcome: String(i) })));
    expect(await verifyAudit(sql)).toEqual({ ok: true, rows: 20, unchained: 0 });
    const res = await cliVerify();
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("OK: 20 audit rows");
  });

  it("chains records written inside other transactions in the order they were written, also when nobody chained them", async () => {
    // Written with the change they record (no chain lock taken), and left waiting as by a process that stopped right after.
    for (const i of [1, 2, 3]) await transaction(sql, (tx) => appendAudits(tx, [{ actor: "system", action: "job.request", outcome: "accepted", detail: { job: 100 + i } }]));
    expect(await sql`select 1 from audit where action = 'job.request' and detail->>'job' like '10_'`).toHaveLength(0);
    // The next record written takes them along first, each in its turn.
    await recordAudit(sql, { actor: "system", action: "job.start", outcome: "started", detail: { job: 101 } });
    const rows = await sql<{ seq: number; job: string }[]>`select seq, detail->>'job' as job from audit where seq > 20 order by seq`;
    expect(rows.map((r) => r.job)).toEqual(["101", "102", "103", "101"]);
    expect(rows.map((r) => r.seq)).toEqual([21, 22, 23, 24]);
    expect(await sql`select 1 from audit_pending`).toHaveLength(0);
    // Written and chained at once from many requests: one chain, no fork.
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        await transaction(sql, (tx) => appendAudits(tx, [{ actor: "system", action: "command", outcome: String(i) }]));
        await chainPendingAudits(sql);
      }),
    );
    expect(await sql`select 1 from audit_pending`).toHaveLength(0);
    expect(await verifyAudit(sql)).toEqual({ ok: true, rows: 34, unchained: 0 });
  });

  it("notes a record without waiting for the chain's lock, and chains it once the lock is free", async () => {
    // Another writer holds the chain's lock (as a slow transaction elsewhere would).
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = raw.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext('testum:audit'))`;
      locked();
      await released;
    });
    await isLocked;
    try {
      const noted = noteAudits(sql, [{ actor: "system", action: "job.start", outcome: "started", detail: { job: 201 } }]).then(() => "noted");
      const waited = new Promise<string>((resolve) => setTimeout(() => resolve("waited for the chain's lock"), 5000));
      expect(await Promise.race([noted, waited])).toBe("noted");
      expect(await sql`select 1 from audit_pending where detail->>'job' = '201'`).toHaveLength(1);
      expect(await sql`select 1 from audit where detail->>'job' = '201'`).toHaveLength(0);
    } finally {
      release();
      await holder;
    }
    await eventually("the noted record to be chained", async () => (await sql`select 1 from audit where detail->>'job' = '201'`).length === 1);
    expect(await sql`select 1 from audit_pending`).toHaveLength(0);
    expect(await verifyAudit(sql)).toEqual({ ok: true, rows: 35, unchained: 0 });
  });

  it("chains records noted one after another in a few turns of the chain's lock, not one turn each", async () => {
    // A pool of its own, whose transactions (the chain's turns) are counted.
    const pool = connect(db.url, { max: 2 });
    let turns = 0;
    const counted = new Proxy(pool, {
      get(target, key) {
        if (key === "begin") turns++;
        return Reflect.get(target, key);
      },
    });
    try {
      // Ten records over about 200 ms, as a worker's jobs starting one after another note them.
      for (let i = 0; i < 10; i++) {
        await noteAudits(counted, [{ actor: "system", action: "job.start", outcome: "started", detail: { job: 300 + i } }]);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await eventually("the noted records to be chained", async () => (await sql`select 1 from audit where (detail->>'job')::int between 300 and 309`).length === 10);
      expect(turns).toBeGreaterThanOrEqual(1);
      expect(turns).toBeLessThanOrEqual(3);
    } finally {
      await pool.end();
    }
    expect(await verifyAudit(sql)).toEqual({ ok: true, rows: 45, unchained: 0 });
  });

  it("refuses plain updates and deletes", async () => {
    await expect(raw`update audit set outcome = 'refused' where seq = 1`).rejects.toThrow(/append-only/);
    await expect(raw`delete from audit where seq = 1`).rejects.toThrow(/append-only/);
  });

  it("names a changed row", async () => {
    await tamper("update audit set outcome = 'refused' where seq = 3");
    const result = await verifyAudit(sql);
    expect(result).toMatchObject({ ok: false, row: 3, problem: "changed" });
    const res = await cliVerify();
    expect(res.code).toBe(1);
    expect(res.stdout).toContain("audit row 3 was changed");
    await tamper("update audit set outcome = 'accepted' where seq = 3");
    expect((await verifyAudit(sql)).ok).toBe(true);
  });

  it("names a removed row", async () => {
    const [saved] = await raw`select * from audit where seq = 5`;
    await tamper("delete from audit where seq = 5");
    expect(await verifyAudit(sql)).toMatchObject({ ok: false, row: 5, problem: "removed" });
    expect((await cliVerify()).stdout).toContain("audit row 5 was removed");
    // Put it back exactly as it was: the chain is whole again.
    await raw.begin(async (tx) => {
      await tx.unsafe("alter table audit disable trigger audit_append_only");
      await tx`insert into audit ${tx(saved!)}`;
      await tx.unsafe("alter table audit enable trigger audit_append_only");
    });
    expect((await verifyAudit(sql)).ok).toBe(true);
  });

  it("names an inserted row", async () => {
    await tamper("insert into audit (actor, action, outcome) values ('slack:T1:U666', 'host.remove', 'removed')");
    expect(await verifyAudit(sql)).toMatchObject({ ok: false, problem: "inserted" });
    expect((await cliVerify()).stdout).toMatch(/was inserted/);
    await tamper("delete from audit where seq is null");
    // A forged row placed in the chain, linking to its predecessor but not hashed by testum.
    const [last] = await raw`select seq, hash from audit order by seq desc limit 1`;
    await tamper(
      `insert into audit (seq, actor, action, outcome, prev_hash, hash) values (${Number(last!.seq) + 1}, 'slack:T1:U666', 'grant', 'granted', '${last!.hash}', '${"f".repeat(64)}')`,
    );
    const forged = await verifyAudit(sql);
    expect(forged.ok).toBe(false);
    expect(forged).toMatchObject({ row: Number(last!.seq) + 1 });
  });
});
