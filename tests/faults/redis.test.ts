import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobIdFrom } from "../helpers/slack-world.js";
import { eventually } from "../helpers/testum.js";
import { startFaultWorld, type FaultWorld } from "./harness.js";

// testum's own redis-server (with an append-only file), killed and restarted
// with and without its data. Postgres holds each job's truth: a job runs at
// most once, and a job that cannot be queued is said to be so.

let world: FaultWorld;

beforeAll(async () => {
  world = await startFaultWorld({ hosts: 1, redisPersistence: true });
  await world.addHost("s1", 0);
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

const starts = async (id: number) =>
  (await world.sql<Array<{ n: number }>>`select count(*)::int as n from audit where action = 'job.start' and detail->>'job' = ${String(id)}`)[0]!.n;

describe("Redis killed", () => {
  it("mid-job: the job ends as it should, a command meanwhile is told the queue is away, and after a restart without data new jobs run", async () => {
    const testum = await world.spawn("start");
    const running = jobIdFrom((await world.slash(testum, "run s1 'sleep 3; echo survived-redis'")).text);
    await eventually("the job to run", async () => (await world.job(running)).status === "running");
    await world.redis.kill();

    const during = await world.slash(testum, "run s1 'echo while-redis-is-down'");
    expect(during.status).toBe(200);
    // Refused, and said why: the queue, or the check that a request is new, needs Redis.
    expect(during.text).toMatch(/queue is unavailable|not run|Redis is unavailable/i);
    expect(during.text).not.toMatch(/internal error/i);

    expect((await world.finished(running)).status).toBe("succeeded");
    expect((await world.tasks(running))[0]!.tail).toContain("survived-redis");
    expect(await starts(running)).toBe(1);

    await world.redis.restart({ wipe: true });
    const after = await eventually(
      "a job to be accepted again",
      async () => {
        const res = await world.slash(testum, "run s1 'echo redis-is-back'");
        return /#\d+/.test(res.text) && !/not run|unavailable/i.test(res.text) ? jobIdFrom(res.text) : undefined;
      },
      60_000,
    );
    expect((await world.finished(after)).status).toBe("succeeded");
    // Nothing ran twice.
    const [twice] = await world.sql<Array<{ n: number }>>`
      select count(*)::int as n from (select detail->>'job' from audit where action = 'job.start' group by 1 having count(*) > 1) d`;
    expect(twice!.n).toBe(0);
    testum.child.kill("SIGTERM");
    expect(await testum.exited).toBe(0);
  }, 120_000);

  it("stalled (it holds its connections but answers nothing): a command is answered within seconds, saying so, and one after it recovers runs", async () => {
    const testum = await world.spawn("start");
    const pid = world.redis.pid!;
    process.kill(pid, "SIGSTOP");
    try {
      const asked = Date.now();
      const during = await world.slash(testum, "run s1 'echo while-redis-is-stalled'");
      expect(Date.now() - asked).toBeLessThan(15_000);
      expect(during.text).toMatch(/Redis is unavailable|queue is unavailable|not run/i);
      expect(during.text).not.toMatch(/internal error/i);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    const after = await eventually(
      "a job to be accepted again",
      async () => {
        const res = await world.slash(testum, "run s1 'echo redis-answers-again'");
        return /#\d+/.test(res.text) && !/not run|unavailable/i.test(res.text) ? jobIdFrom(res.text) : undefined;
      },
      30_000,
    );
    expect((await world.finished(after)).status).toBe("succeeded");
    expect(await world.sql`select 1 from jobs where command like '%while-redis-is-stalled%'`).toHaveLength(0);
    testum.child.kill("SIGTERM");
    expect(await testum.exited).toBe(0);
  }, 120_000);

  it("with its data kept (append-only file): a job queued while no worker ran is run exactly once after the restart", async () => {
    const web = await world.spawn("serve");
    // Until its Redis connection is up, the web side refuses commands, saying so; then it takes them.
    const queued = await eventually(
      "the command to be queued",
      async () => {
        const res = await world.slash(web, "run s1 'echo queued-across-restart'");
        return /#\d+/.test(res.text) && !/not run|unavailable/i.test(res.text) ? jobIdFrom(res.text) : undefined;
      },
      60_000,
    );
    expect((await world.job(queued)).status).toBe("queued");
    await world.redis.kill();
    await world.redis.restart();
    const worker = await world.spawn("worker");
    expect((await world.finished(queued, 60_000)).status).toBe("succeeded");
    expect(await starts(queued)).toBe(1);
    worker.child.kill("SIGTERM");
    web.child.kill("SIGTERM");
    await Promise.all([worker.exited, web.exited]);
  }, 120_000);
});
