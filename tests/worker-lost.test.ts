import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockText, CHANNEL, jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually, startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";

let world: SlackWorld;
let child: ChildProcess | undefined;
let rescue: TestumUnderTest | undefined;

/** Starts `testum worker` as its own process, as production runs it. */
function startWorkerProcess(env: Record<string, string>): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ["bin/testum.js", "worker"], {
    env: { ...process.env, ...env, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("worker is running")) resolve(proc);
    });
    proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    proc.on("exit", (code) => reject(new Error(`worker exited early (${code}): ${out}`)));
  });
}

beforeAll(async () => {
  // The web side runs here; the only worker is a separate process.
  world = await startSlackWorld({ hosts: 1, testum: { work: false, runOptions: { lostAfterMs: 25_000 } } });
  await world.addHost("db-1", world.ssh.hosts[0]!);
  child = await startWorkerProcess(world.testum.env);
});

afterAll(async () => {
  child?.kill("SIGKILL");
  await rescue?.stop();
  await world.ssh.hosts[0]?.exec("pkill -f lost-marker; true");
  await world?.stop();
});

describe("a worker that dies mid-command", () => {
  it("leaves the job lost, says so in the thread within a minute, and never runs the command again", async () => {
    const res = await world.slash(`run db-1 'echo ran >> ~/lost-runs; sleep 120 # lost-marker'`);
    const id = jobIdFrom(String(res.json?.text));
    await eventually("the command to start on the host", async () => (await world.ssh.hosts[0]!.exec("cat ~/lost-runs 2>/dev/null")).stdout === "ran\n");
    const running = await world.job(id);
    expect(running.status).toBe("running");

    // It dies in the middle of delivering the job's messages: it holds their leases (for minutes).
    await world.testum.sql`
      update job_messages set lease_owner = ${running.worker!}, lease_until = now() + interval '10 minutes'
      where job_id = ${id} and slot in ('parent', 'live')`;
    child!.kill("SIGKILL");
    const killedAt = Date.now();
    const job = await world.finished(id, 60_000);
    expect(job.status).toBe("lost");
    expect(Date.now() - killedAt).toBeLessThan(60_000);

    const parentTs = job.parentMessage!.split(":")[3]!;
    const thread = await eventually("the thread to say the job was lost", () => world.slack.replies(CHANNEL, parentTs).find((m) => blockText(m.blocks).includes("was lost")));
    expect(blockText(thread.blocks)).toContain("not run again");
    // The parent's edit and the note are separate messages, each delivered as chat allows.
    await eventually("the parent to say the job was lost", () => blockText(world.slack.message(CHANNEL, parentTs)!.blocks).includes("Lost on db-1"));

    // A healthy worker joining later must not pick the job up again.
    rescue = await startTestumForTest({ serve: false, work: true, databaseUrl: world.testum.env.DATABASE_URL, queuePrefix: world.testum.queuePrefix });
    await new Promise((r) => setTimeout(r, 8000));
    expect((await world.ssh.hosts[0]!.exec("cat ~/lost-runs")).stdout).toBe("ran\n");
    expect((await world.job(id)).status).toBe("lost");
    const audit = await world.testum.sql`select outcome from audit where action = 'job.end' and detail->>'job' = ${String(id)}`;
    expect(audit.map((r) => r.outcome)).toEqual(["lost"]);
  }, 120_000);
});
