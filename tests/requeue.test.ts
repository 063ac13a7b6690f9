import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUE_NAME } from "../src/adapters/redis/queue.js";
import { blockText, jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually, startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";

let world: SlackWorld;
let worker: TestumUnderTest | undefined;
let redis: Redis;
const logLines: string[] = [];

beforeAll(async () => {
  // The web side alone: no worker takes the jobs until the test starts one.
  world = await startSlackWorld({ hosts: 1, testum: { work: false, logLines, runOptions: { requeueAfterMs: 1500, sweepEveryMs: 500 } } });
  await world.addHost("db-1", world.ssh.hosts[0]!);
  redis = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  await worker?.stop();
  await world?.stop();
  redis?.disconnect();
});

/** Deletes every Redis key of this testum's queue, as a Redis restarted without its data would. */
async function loseQueueData(prefix: string): Promise<number> {
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:${QUEUE_NAME}:*`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== "0");
  return deleted;
}

/** The job once it has ended; if it does not within 30 s, what the queue and the checks did, to say why. */
async function finished(id: number) {
  try {
    return await world.finished(id, 30_000);
  } catch (err) {
    const key = `${world.testum.queuePrefix}:${QUEUE_NAME}:job-${id}`;
    const entry = await redis.hgetall(key);
    const checks = logLines.filter((l) => l.includes("queue"));
    throw new Error(`${String(err)}; job ${JSON.stringify(await world.job(id))}; queue entry ${JSON.stringify(entry)}; log:\n${checks.join("\n")}`);
  }
}

describe("a queued job whose queue entry is gone", () => {
  it("is queued again and runs once: after Redis lost its data, and after a worker took it without starting it", async () => {
    const host = world.ssh.hosts[0]!;
    const prefix = world.testum.queuePrefix;

    // 1. Redis loses the queue's data after a job was queued.
    const lost = jobIdFrom(String((await world.slash(`run db-1 'echo lost >> ~/requeue-runs'`)).json?.text));
    expect(await loseQueueData(prefix)).toBeGreaterThan(0);

    // 2. A worker takes the next job's entry and is done with it without starting the job (as
    //    one whose claim could not reach the database is): the entry is done with, the job still queued.
    const taken = jobIdFrom(String((await world.slash(`run db-1 'echo taken >> ~/requeue-runs'`)).json?.text));
    const connection = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null });
    const stopping = new Worker(QUEUE_NAME, null, { connection, prefix, autorun: false });
    const entry = await stopping.getNextJob("stopping-worker");
    expect(entry?.id).toBe(`job-${taken}`);
    await entry!.moveToCompleted(undefined, "stopping-worker", false);
    await stopping.close();
    connection.disconnect();
    expect((await world.job(taken)).status).toBe("queued");
    expect((await world.job(lost)).status).toBe("queued");

    // A worker joins: both jobs run, each once.
    worker = await startTestumForTest({ serve: false, work: true, databaseUrl: world.testum.env.DATABASE_URL, queuePrefix: prefix });
    for (const id of [taken, lost]) expect((await finished(id)).status).toBe("succeeded");
    expect(logLines.some((l) => l.includes(`job #${taken} was queued but no longer in the queue; queued again`))).toBe(true);
    expect(logLines.some((l) => l.includes(`job #${lost} was queued but no longer in the queue; queued again`))).toBe(true);

    // Each is in the audit log, as the system's doing.
    const requeues = await eventually("the requeues' audit records", async () => {
      const rows = await world.testum.sql<{ job: string; actor: string; outcome: string }[]>`
        select detail->>'job' as job, actor, outcome from audit where action = 'job.requeue' order by id`;
      return rows.length === 2 ? rows : undefined;
    });
    expect(requeues.map((r) => [Number(r.job), r.actor, r.outcome])).toEqual([
      [lost, "system", "queued"],
      [taken, "system", "queued"],
    ]);

    // Each thread says why its job started late.
    for (const id of [lost, taken]) {
      const job = await world.job(id);
      const [, , channel, parentTs] = job.parentMessage!.split(":");
      const note = await eventually(`job #${id}'s thread to say it was queued again`, () =>
        world.slack.replies(channel!, parentTs!).find((m) => blockText(m.blocks).includes("dropped out of the job queue")),
      );
      expect(blockText(note.blocks)).toContain(`Job #${id} had dropped out of the job queue`);
    }

    // Later sweeps find nothing more to do: the commands ran once each.
    await new Promise((r) => setTimeout(r, 4000));
    expect((await host.exec("sort ~/requeue-runs")).stdout).toBe("lost\ntaken\n");
    expect(logLines.filter((l) => l.includes("was queued but no longer in the queue; queued again"))).toHaveLength(2);
  }, 90_000);

  it("is left alone while it waits in the queue", async () => {
    // No worker takes jobs now: the job waits, its entry in the queue, for longer than the check's delay.
    await worker!.stop();
    worker = undefined;
    const id = jobIdFrom(String((await world.slash(`run db-1 'echo waited >> ~/requeue-waits'`)).json?.text));
    await eventually("its queue entry to be checked", async () => {
      const [row] = await world.testum.sql<{ checked: Date | null }[]>`select queue_checked_at as checked from jobs where id = ${id}`;
      return row?.checked != null;
    });
    expect(logLines.some((l) => l.includes(`job #${id} was queued`))).toBe(false);
    expect(await world.testum.sql`select 1 from audit where action = 'job.requeue' and detail->>'job' = ${String(id)}`).toHaveLength(0);
    expect(await redis.exists(`${world.testum.queuePrefix}:${QUEUE_NAME}:job-${id}`)).toBe(1);
    expect(await world.testum.sql`select 1 from job_messages where job_id = ${id} and slot = 'note:requeue'`).toHaveLength(0);

    worker = await startTestumForTest({ serve: false, work: true, databaseUrl: world.testum.env.DATABASE_URL, queuePrefix: world.testum.queuePrefix });
    expect((await finished(id)).status).toBe("succeeded");
    expect((await world.ssh.hosts[0]!.exec("cat ~/requeue-waits")).stdout).toBe("waited\n");
  }, 60_000);
});
