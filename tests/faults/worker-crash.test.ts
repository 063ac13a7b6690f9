import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobIdFrom } from "../helpers/slack-world.js";
import { remoteProcesses } from "../helpers/sshd.js";
import { eventually } from "../helpers/testum.js";
import { startFaultWorld, type FaultWorld } from "./harness.js";

// kill -9 of the worker process mid-command: the job is marked lost (never run
// again), the command and what it started are stopped on the host, and the
// thread says so, host by host.

const S = 30_000 + (process.pid % 50_000) * 10;
let world: FaultWorld;

beforeAll(async () => {
  world = await startFaultWorld({ hosts: 2 });
  await world.addHost("s1", 0);
  await world.addHost("s2", 1);
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

const sleeping = async (...n: number[]) => (await remoteProcesses(new RegExp(`^sleep (${n.join("|")})$`))).length;

describe("a worker killed mid-command", () => {
  it("leaves the job lost, stops what the command left running on each host, and says so", async () => {
    const env = { TESTUM_LOST_AFTER: "4s" };
    const web = await world.spawn("serve", env);
    const worker = await world.spawn("worker", env);
    // On each host the command leaves a child in a session of its own, as a daemon would.
    const first = jobIdFrom((await world.slash(web, `run s1,s2 'setsid sleep ${S + 1} & sleep ${S + 2}; echo should-not-finish > ~/after-crash'`)).text);
    await eventually("the commands to run on both hosts", async () => (await sleeping(S + 1, S + 2)) === 4, 30_000);
    worker.child.kill("SIGKILL");
    await worker.exited;

    const job = await world.finished(first, 60_000);
    expect(job.status).toBe("lost");
    await eventually("the commands to be stopped on both hosts", async () => (await sleeping(S + 1, S + 2)) === 0, 30_000);
    const thread = await eventually(
      "the thread to say the commands were stopped",
      async () => {
        const text = await world.threadText(first);
        return /s1: the command was still running there and has been stopped/.test(text) && /s2: the command was still running there and has been stopped/.test(text)
          ? text
          : undefined;
      },
      30_000,
    );
    expect(thread).toContain(`Job #${first} was lost`);
    const tasks = await world.tasks(first);
    expect(tasks.map((t) => t.status)).toEqual(["lost", "lost"]);

    // A new worker never runs the lost job again, and runs new ones.
    const again = await world.spawn("worker", env);
    const second = jobIdFrom((await world.slash(web, "run s1 'echo after-the-crash'")).text);
    expect((await world.finished(second, 60_000)).status).toBe("succeeded");
    expect((await world.job(first)).status).toBe("lost");
    const [runs] = await world.sql<Array<{ n: number }>>`select count(*)::int as n from audit where action = 'job.start' and detail->>'job' = ${String(first)}`;
    expect(runs!.n).toBe(1);
    const [hostHome] = [world.ssh.hosts[0]!.home];
    expect(await world.ssh.hosts[0]!.exec(`test -e ${hostHome}/after-crash && echo yes || echo no`)).toMatchObject({ stdout: "no\n" });
    again.child.kill("SIGTERM");
    web.child.kill("SIGTERM");
    await Promise.all([again.exited, web.exited]);
  }, 180_000);
});
