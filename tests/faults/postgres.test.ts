import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobIdFrom } from "../helpers/slack-world.js";
import { remoteProcesses } from "../helpers/sshd.js";
import { eventually } from "../helpers/testum.js";
import { startFaultWorld, type FaultWorld } from "./harness.js";

// Postgres cut off (through the proxy: connections dropped, the port closed) for
// 20 s while a job runs. testum stays up, says it cannot reach its database
// instead of "internal error", and the job ends once the database is back.

/** A sleep length unique to this run, a little longer than the outage. */
const S = 24 + (process.pid % 1000) / 1000;
let world: FaultWorld;

beforeAll(async () => {
  world = await startFaultWorld({ hosts: 1 });
  await world.addHost("s1", 0);
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

describe("Postgres cut for 20 s mid-job", () => {
  it("keeps testum up, answers clearly meanwhile, and the job ends once, with its log", async () => {
    const testum = await world.spawn("start");
    const id = jobIdFrom((await world.slash(testum, `run s1 'sleep ${S}; echo outlived-the-outage'`)).text);
    await eventually("the command to run on the host", async () => (await remoteProcesses(new RegExp(`^sleep ${S}$`))).length === 1);

    await world.pgProxy.set("down");
    const cutAt = Date.now();
    const ready = await fetch(`http://127.0.0.1:${testum.port}/readyz`);
    expect(ready.status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${testum.port}/healthz`)).status).toBe(200);
    const during = await world.slash(testum, "jobs");
    expect(during.status).toBe(200);
    expect(during.text).toContain("cannot reach its database");
    expect(during.text).not.toMatch(/internal error/i);
    await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - cutAt))));
    await world.pgProxy.set("pass");

    const job = await world.finished(id, 60_000);
    expect(
      job.status,
      testum.logs
        .filter((l) => /"level":(40|50)/.test(l))
        .map((l) => {
          try {
            const o = JSON.parse(l);
            return `${o.time} ${o.msg} ${o.err?.message ?? o.err ?? ""}`;
          } catch {
            return l.slice(0, 200);
          }
        })
        .join("\n"),
    ).toBe("succeeded");
    const [task] = await world.tasks(id);
    expect(task!.tail).toContain("outlived-the-outage");
    expect(await world.s3.getObjectText(task!.logKey!)).toContain("outlived-the-outage");
    await eventually("/readyz to recover", async () => (await fetch(`http://127.0.0.1:${testum.port}/readyz`)).status === 200);
    const [starts] = await world.sql<Array<{ n: number }>>`select count(*)::int as n from audit where action = 'job.start' and detail->>'job' = ${String(id)}`;
    expect(starts!.n).toBe(1);
    expect(testum.running).toBe(true);
    testum.child.kill("SIGTERM");
    expect(await testum.exited).toBe(0);
  }, 150_000);
});

describe("a table locked by hand", () => {
  it("a command waiting on it is answered within the server's lock limit, saying the database did not answer in time; then commands work", async () => {
    const testum = await world.spawn("start");
    // An operator's psql session holds the hosts table for 14 s (busy, not idle, in its transaction).
    const locking = world.sql.begin(async (tx) => {
      await tx`lock table hosts in access exclusive mode`;
      await tx`select pg_sleep(14)`;
    });
    await eventually("the lock to be held", async () => {
      const rows = await world.sql`select 1 from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'hosts' and l.mode = 'AccessExclusiveLock' and l.granted`;
      return rows.length > 0;
    });
    const asked = Date.now();
    const during = await world.slash(testum, "run s1 'echo while-hosts-is-locked'");
    // The lock limit is 10 s: well before the lock is let go.
    expect(Date.now() - asked).toBeLessThan(13_500);
    expect(during.text).toContain("did not answer in time");
    expect(during.text).not.toMatch(/internal error/i);
    await locking;
    expect(await world.sql`select 1 from jobs where command like '%while-hosts-is-locked%'`).toHaveLength(0);
    const after = jobIdFrom((await world.slash(testum, "run s1 'echo after-the-lock'")).text);
    expect((await world.finished(after)).status).toBe("succeeded");
    testum.child.kill("SIGTERM");
    expect(await testum.exited).toBe(0);
  }, 90_000);
});
