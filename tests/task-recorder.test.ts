import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "../src/core/db.js";
import { createJob, listTasks } from "../src/core/jobs/jobs.js";
import { TaskRecorder } from "../src/core/jobs/task-recorder.js";
import { createTestDatabase } from "./helpers/db.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: Sql;

/** The same connection, counting the statements sent through it. */
function counting(target: Sql): { sql: Sql; count: () => number } {
  let n = 0;
  const sql = new Proxy(target, {
    apply(fn, self, args: unknown[]) {
      const first = args[0] as { raw?: unknown } | undefined;
      if (first && Array.isArray(first) && "raw" in first) n += 1;
      return Reflect.apply(fn as never, self, args);
    },
  });
  return { sql, count: () => n };
}

beforeAll(async () => {
  db = await createTestDatabase();
  sql = connect(db.url);
});

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await db?.drop();
});

async function jobOn(count: number) {
  const hosts = [];
  for (let i = 1; i <= count; i++) {
    const [host] = await sql<{ id: number; name: string }[]>`
      insert into hosts (name, address, username, auth_method, created_by)
      values (${`r${count}-${i}`}, '127.0.0.1', 'ops', 'identity', 'local:test') returning id, name`;
    hosts.push(host!);
  }
  return createJob(sql, { command: "true", target: "all", hosts, requestedBy: "local:alice", conversation: "playground:main", timeoutMs: 60_000 });
}

describe("task starts and outcomes", () => {
  it("writes every field of every host, nulls included, and only while the task is open", async () => {
    const job = await jobOn(3);
    const recorder = new TaskRecorder(sql, job.id);
    await Promise.all(["r3-1", "r3-2", "r3-3"].map((h) => recorder.start(h)));
    expect((await listTasks(sql, job.id)).map((t) => t.status)).toEqual(["running", "running", "running"]);

    await Promise.all([
      recorder.finish("r3-1", {
        status: "succeeded",
        exitCode: 0,
        logKey: "jobs/1/r3-1.log",
        logBytes: 5_000_000_000,
        logLines: 12,
        tail: "it's \"quoted\"\nand 'multi-line'",
        outputHash: "ab",
      }),
      recorder.finish("r3-2", { status: "failed", exitCode: null, signal: "KILL", errorCode: "timeout", error: "stopped after 30s" }),
      recorder.finish("r3-3", { status: "cancelled" }),
    ]);
    const tasks = await listTasks(sql, job.id);
    const byHost = Object.fromEntries(tasks.map((t) => [t.hostName, t]));
    expect(byHost["r3-1"]).toMatchObject({
      status: "succeeded",
      exitCode: 0,
      signal: null,
      logKey: "jobs/1/r3-1.log",
      logBytes: 5_000_000_000,
      logLines: 12,
      tail: "it's \"quoted\"\nand 'multi-line'",
      outputHash: "ab",
    });
    expect(byHost["r3-2"]).toMatchObject({ status: "failed", exitCode: null, signal: "KILL", errorCode: "timeout", error: "stopped after 30s", logKey: null });
    expect(byHost["r3-3"]).toMatchObject({ status: "cancelled", exitCode: null });
    for (const t of tasks) expect(t.finishedAt).toBeInstanceOf(Date);

    // An ended task is not written again.
    await recorder.finish("r3-3", { status: "succeeded", exitCode: 0 });
    expect((await listTasks(sql, job.id)).find((t) => t.hostName === "r3-3")).toMatchObject({ status: "cancelled" });
  });

  it("writes many hosts that start or end together in a few statements", async () => {
    const job = await jobOn(200);
    const names = (await listTasks(sql, job.id)).map((t) => t.hostName);
    const counted = counting(sql);
    const recorder = new TaskRecorder(counted.sql, job.id);
    await Promise.all(names.map((h) => recorder.start(h)));
    expect((await listTasks(sql, job.id)).every((t) => t.status === "running")).toBe(true);
    // Outcomes arriving one after another while a write is in flight.
    const finishing: Promise<void>[] = [];
    for (const [i, h] of names.entries()) {
      finishing.push(recorder.finish(h, { status: i % 2 ? "failed" : "succeeded", exitCode: i % 2 }));
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(finishing);
    const tasks = await listTasks(sql, job.id);
    expect(tasks.filter((t) => t.status === "succeeded")).toHaveLength(100);
    expect(tasks.filter((t) => t.status === "failed" && t.exitCode === 1)).toHaveLength(100);
    expect(counted.count()).toBeGreaterThanOrEqual(2);
    expect(counted.count()).toBeLessThanOrEqual(12);
  });

  it("fails the callers of a write that fails, and goes on with the next", async () => {
    const job = await jobOn(1);
    const recorder = new TaskRecorder(sql, job.id);
    await recorder.start("r1-1");
    await expect(recorder.finish("r1-1", { status: "no such status" as never })).rejects.toThrow(/check constraint/);
    await recorder.finish("r1-1", { status: "succeeded", exitCode: 0 });
    expect((await listTasks(sql, job.id))[0]).toMatchObject({ status: "succeeded" });
  });
});
