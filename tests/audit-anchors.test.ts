import { execFile } from "node:child_process";
import { promisify } from "node:util";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordAudit, rowHash, verifyAudit } from "../src/core/access/audit.js";
import { anchorAudit, anchorKey } from "../src/core/access/audit-anchor.js";
import { connect, type Sql } from "../src/core/db.js";
import { createTestDatabase } from "./helpers/db.js";
import { startTestumForTest, TEST_MASTER_KEY } from "./helpers/testum.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: Sql;
/** A superuser connection, as someone tampering with the database would have. */
let raw: postgres.Sql;
const key = anchorKey(Buffer.from(TEST_MASTER_KEY, "base64"));

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

async function tamper(...statements: string[]): Promise<void> {
  await raw.begin(async (tx) => {
    await tx.unsafe("alter table audit disable trigger audit_append_only");
    for (const statement of statements) await tx.unsafe(statement);
    await tx.unsafe("alter table audit enable trigger audit_append_only");
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  sql = connect(db.url, { max: 4 });
  raw = postgres(db.url, { max: 1, onnotice: () => {} });
  for (let i = 1; i <= 10; i++) await recordAudit(sql, { actor: `slack:T1:U${i}`, action: "job.request", target: `web-${i}`, outcome: "accepted" });
});

afterAll(async () => {
  await sql?.end();
  await raw?.end();
  await db?.drop();
});

describe("audit anchors", () => {
  it("notice rows cut from the end of the chain, which the chain alone cannot", async () => {
    expect((await anchorAudit(sql, key))?.seq).toBe(10);
    expect(await anchorAudit(sql, key)).toBeUndefined();
    expect(await verifyAudit(sql, key)).toMatchObject({ ok: true, rows: 10, anchors: 1, lastAnchorSeq: 10 });
    const saved = await raw`select * from audit where seq > 7 order by seq`;
    await tamper("delete from audit where seq > 7");
    // Without anchors the shortened chain looks whole (what happened before).
    expect((await verifyAudit(sql)).ok).toBe(true);
    const result = await verifyAudit(sql, key);
    expect(result).toMatchObject({ ok: false, problem: "removed" });
    expect(!result.ok && result.message).toContain("audit rows after row 7 were removed");
    const cli = await cliVerify();
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain("TAMPERED: audit rows after row 7 were removed");
    await raw.begin(async (tx) => {
      await tx.unsafe("alter table audit disable trigger audit_append_only");
      for (const row of saved) await tx`insert into audit ${tx(row)}`;
      await tx.unsafe("alter table audit enable trigger audit_append_only");
    });
    expect((await cliVerify()).stdout).toContain("anchored up to row 10");
  });

  it("notice a chain rewritten with recomputed hashes, and anchors nobody signed", async () => {
    // Someone with the database (not the master key) changes row 10 and recomputes its hash.
    const [row] = await raw`select * from audit where seq = 10`;
    const changed = {
      seq: 10,
      at: row!.at as Date,
      actor: "slack:T1:U666",
      actorName: null,
      channel: null,
      action: "job.request",
      target: "web-10",
      outcome: "accepted",
      detail: {},
    };
    const hash = rowHash(String(row!.prev_hash), changed);
    await tamper(`update audit set actor = 'slack:T1:U666', hash = '${hash}' where seq = 10`);
    expect((await verifyAudit(sql)).ok).toBe(true);
    expect(await verifyAudit(sql, key)).toMatchObject({ ok: false });
    expect((await cliVerify()).stdout).toContain("audit row 10 is not the row anchored");
    await tamper(`update audit set actor = '${String(row!.actor)}', hash = '${String(row!.hash)}' where seq = 10`);
    expect((await verifyAudit(sql, key)).ok).toBe(true);
    // An anchor made without the key.
    await raw`insert into audit_anchors (seq, hash, mac) values (10, ${String(row!.hash)}, ${"0".repeat(64)})`;
    expect((await cliVerify()).stdout).toContain("is not signed with this master key");
    await expect(raw`delete from audit_anchors`).rejects.toThrow(/append-only/);
  });

  it("are written by a running testum at shutdown", async () => {
    const own = await createTestDatabase();
    const testum = await startTestumForTest({ work: false, databaseUrl: own.url });
    await recordAudit(testum.sql, { actor: "system", action: "help", outcome: "ok" });
    const check = connect(own.url, { max: 1 });
    try {
      await testum.running.stop();
      const [anchor] = await check<{ seq: number }[]>`select seq from audit_anchors order by id desc limit 1`;
      const [head] = await check<{ seq: number }[]>`select max(seq)::int as seq from audit`;
      expect(anchor?.seq).toBe(head!.seq);
    } finally {
      await check.end();
      await testum.sql.end({ timeout: 5 });
      await own.drop();
    }
  });
});
