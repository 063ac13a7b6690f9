import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobIdFrom } from "../helpers/slack-world.js";
import { remoteProcesses } from "../helpers/sshd.js";
import { eventually } from "../helpers/testum.js";
import { startFaultWorld, type FaultWorld } from "./harness.js";

// SIGTERM: testum takes no new work, lets running commands finish within
// TESTUM_SHUTDOWN_GRACE, then stops them on their hosts and exits, whatever
// Postgres, S3 or a host is doing.

const S = 20_000 + (process.pid % 50_000) * 10;
let world: FaultWorld;

beforeAll(async () => {
  world = await startFaultWorld({ hosts: 1 });
  await world.addHost("s1", 0);
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

const sleepsOf = async (n: number) => (await remoteProcesses(new RegExp(`^sleep ${n}$`))).length;

describe("SIGTERM", () => {
  it("lets a command that ends within the grace period finish, then exits", async () => {
    const testum = await world.spawn("start", { TESTUM_SHUTDOWN_GRACE: "20s" });
    const id = jobIdFrom((await world.slash(testum, `run s1 'sleep 3; echo finished-in-grace'`)).text);
    await eventually("the job to run", async () => (await world.job(id)).status === "running");
    const signalled = Date.now();
    testum.child.kill("SIGTERM");
    expect(await testum.exited).toBe(0);
    const job = await world.job(id);
    expect(job.status).toBe("succeeded");
    const [task] = await world.tasks(id);
    expect(task!.tail).toContain("finished-in-grace");
    expect(Date.now() - signalled).toBeLessThan(20_000);
    // What the user sees: the final outcome in the channel.
    expect(await world.threadText(id)).toContain("Succeeded");
  }, 90_000);

  it("stops a command still running after the grace period on its host, says why, and exits", async () => {
    const testum = await world.spawn("start", { TESTUM_SHUTDOWN_GRACE: "2s" });
    const id = jobIdFrom((await world.slash(testum, `run s1 'sleep ${S + 1}'`)).text);
    await eventually("the command to run", async () => (await sleepsOf(S + 1)) === 1);
    const signalled = Date.now();
    testum.child.kill("SIGTERM");
    expect(await testum.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(30_000);
    const job = await world.job(id);
    expect(job.status).toBe("cancelled");
    expect(job.error).toContain("shutting down");
    expect(await sleepsOf(S + 1)).toBe(0);
    expect(await world.threadText(id)).toMatch(/Cancelled/);
  }, 90_000);

  it("exits within its bounds even when Postgres and S3 have stopped answering mid-job", async () => {
    const testum = await world.spawn("start", { TESTUM_SHUTDOWN_GRACE: "2s" });
    const id = jobIdFrom((await world.slash(testum, `run s1 'sleep ${S + 2}'`)).text);
    await eventually("the command to run", async () => (await sleepsOf(S + 2)) === 1);
    await world.pgProxy.set("blackhole");
    await world.s3Proxy.set("blackhole");
    try {
      const signalled = Date.now();
      testum.child.kill("SIGTERM");
      const code = await testum.exited;
      // Grace 2 s, then every step is bounded; the process never hangs.
      expect(Date.now() - signalled).toBeLessThan(120_000);
      expect([0, 1]).toContain(code);
      // The remote command did not outlive the process that ran it.
      expect(await sleepsOf(S + 2)).toBe(0);
    } finally {
      await world.pgProxy.set("pass");
      await world.s3Proxy.set("pass");
    }
    // The job is not left running for ever: it ended, or the reaper of the next process marks it lost.
    const job = await world.job(id);
    expect(["running", "cancelled", "lost"]).toContain(job.status);
  }, 180_000);
});
