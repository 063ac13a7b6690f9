import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, DatabaseBusyError, inTransaction, transaction, type Sql } from "../src/core/db.js";
import { createChatDirectory, type ChatAdapter } from "../src/core/chat/chat.js";
import { connectSsh } from "../src/adapters/ssh/handshake.js";
import { createTestDatabase } from "./helpers/db.js";

// The rule: no network I/O inside a database transaction. Every transaction goes
// through db.ts's `transaction`, whose body gets only the SQL handle, and every
// door to the network (SSH, chat) refuses to open inside one.

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

describe("transactions in the source", () => {
  it("are all opened through transaction() in db.ts", async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles("src")) {
      if (relative("src", file) === join("core", "db.ts")) continue;
      const text = await readFile(file, "utf8");
      text.split("\n").forEach((line, i) => {
        if (/\.begin\s*\(|\.reserve\s*\(|[`"']\s*(begin|start transaction)\b/i.test(line) && !/^\s*(\/\/|\*)/.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders, "open transactions with transaction(sql, tx => …) from src/core/db.ts").toEqual([]);
  });
});

describe("transaction()", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = connect(db.url, { max: 2 });
  });

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await db?.drop();
  });

  it("refuses an SSH connection or a chat post started inside it, and rolls back", async () => {
    await sql`create table if not exists tx_probe (n int)`;
    const ssh = transaction(sql, async (tx) => {
      await tx`insert into tx_probe values (1)`;
      await connectSsh({ name: "h", address: "127.0.0.1", port: 1, username: "x", auth: { password: "p" }, expectedFingerprint: null });
    });
    await expect(ssh).rejects.toThrow(/SSH connection to h was started inside a database transaction/);
    const posted: string[] = [];
    const fake: ChatAdapter = {
      platform: "fake",
      minEditIntervalMs: 0,
      startThread: async () => ({ message: "fake:1", thread: "fake:1" }),
      post: async (thread) => (posted.push(thread), "fake:2"),
      edit: async () => {},
    };
    const chat = createChatDirectory([fake]);
    await expect(transaction(sql, async () => chat.adapterFor("fake:c").post("fake:t", { text: "x", blocks: [] }))).rejects.toThrow(/inside a database transaction/);
    expect(posted).toEqual([]);
    // Outside a transaction the same call goes through.
    await chat.adapterFor("fake:c").post("fake:t", { text: "x", blocks: [] });
    expect(posted).toEqual(["fake:t"]);
    expect((await sql`select count(*)::int as n from tx_probe`)[0]!.n).toBe(0);
    expect(inTransaction()).toBe(false);
  });

  it("gives up with DatabaseBusyError when no connection frees in time, and never runs the body later", async () => {
    const holders: Array<() => void> = [];
    // Both pooled connections are taken by transactions that wait on the test.
    const held = [0, 1].map(() => transaction(sql, (tx) => new Promise<void>((r) => holders.push(r)).then(() => void tx`select 1`)));
    while (holders.length < 2) await new Promise((r) => setTimeout(r, 10));
    let ran = false;
    const late = transaction(
      sql,
      async () => {
        ran = true;
      },
      { acquireTimeoutMs: 300 },
    );
    await expect(late).rejects.toBeInstanceOf(DatabaseBusyError);
    for (const release of holders) release();
    await Promise.all(held);
    await new Promise((r) => setTimeout(r, 200));
    expect(ran).toBe(false);
    // The pool is healthy afterwards.
    expect(await transaction(sql, async (tx) => (await tx`select 2 as n`)[0]!.n)).toBe(2);
  });

  it("Postgres ends a session left idle inside a transaction", async () => {
    const [row] = await sql`show idle_in_transaction_session_timeout`;
    expect(String(row!.idleInTransactionSessionTimeout)).toBe("15s");
  });
});
