import { readFile, rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHANNEL, jobIdFrom } from "../helpers/slack-world.js";
import { remoteProcesses } from "../helpers/sshd.js";
import { eventually } from "../helpers/testum.js";
import { startFaultWorld, type FaultWorld } from "./harness.js";

// The chat platform answering 429 (with Retry-After), then 500, to every Web
// API call for a while: commands are still answered and their jobs run at
// once, each exactly once; a command past its deadline is stopped on its host
// although chat cannot be told; once chat answers again every job's thread
// shows its final state, each parent posted once.

const S = 30_000 + (process.pid % 50_000) * 10;
const marks = `/tmp/testum-chat-fault-${process.pid}`;
let world: FaultWorld;

beforeAll(async () => {
  world = await startFaultWorld({ hosts: 1 });
  await world.addHost("c1", 0);
}, 120_000);

afterAll(async () => {
  world?.slack.outage(null);
  await world?.stop();
  await rm(marks, { force: true });
});

const sleepsOf = async (n: number) => (await remoteProcesses(new RegExp(`^sleep ${n}$`))).length;

describe("the chat platform answering 429, then 5xx, for a while", () => {
  it("answers and runs every command once, stops what outlives its job, and shows every final state afterwards", async () => {
    const testum = await world.spawn("start");
    world.slack.outage({ status: 429, retryAfter: 3 });
    const ids: number[] = [];
    // What the user sees at once: the private answer with the job number (it needs no Web API call).
    for (const i of [1, 2]) {
      const answer = await world.slash(testum, `run c1 'echo ran-${i} >> ${marks}; echo done-${i}'`);
      expect(answer.text).toMatch(/Job #\d+ queued on c1/);
      ids.push(jobIdFrom(answer.text));
    }
    const late = await world.slash(testum, `run c1 'sleep ${S}' --timeout 3s`);
    expect(late.text).toMatch(/queued on c1/);
    const timedOut = jobIdFrom(late.text);

    // The jobs ran while chat refused everything.
    for (const id of ids) expect((await world.finished(id, 30_000)).status).toBe("succeeded");
    // The command past its deadline ended with its job, on its host too.
    expect((await world.finished(timedOut, 30_000)).status).toBe("timed_out");
    expect(await sleepsOf(S)).toBe(0);

    world.slack.outage({ status: 500 });
    const answer = await world.slash(testum, `run c1 'echo ran-3 >> ${marks}; echo done-3'`);
    expect(answer.text).toMatch(/queued on c1/);
    ids.push(jobIdFrom(answer.text));
    expect((await world.finished(ids[2]!, 30_000)).status).toBe("succeeded");
    // Nothing reached the channel meanwhile, and nothing was given up on.
    expect(world.slack.messages(CHANNEL)).toHaveLength(0);

    world.slack.outage(null);
    for (const [n, id] of ids.entries()) {
      await eventually(
        `job #${id}'s thread to show its final state`,
        async () => {
          const text = await world.threadText(id);
          return text.includes("Succeeded on c1") && text.includes(`done-${n + 1}`);
        },
        60_000,
      );
    }
    await eventually("the timed-out job's thread to say so", async () => /Timed out/i.test(await world.threadText(timedOut)), 60_000);
    // No job ran twice, none was lost; each parent was posted once.
    expect((await readFile(marks, "utf8")).trim().split("\n").sort()).toEqual(["ran-1", "ran-2", "ran-3"]);
    expect(world.slack.messages(CHANNEL).filter((m) => !m.threadTs)).toHaveLength(4);
    // The outbox drains (a last edit may still be in flight), and nothing was given up on.
    await eventually("the outbox to drain", async () => (await world.sql`select id from job_messages where delivered_version < version or given_up`).length === 0, 30_000);
    expect(await world.sql`select id from job_messages where given_up`).toEqual([]);
  }, 180_000);
});
