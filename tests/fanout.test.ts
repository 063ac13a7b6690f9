import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job } from "../src/core/jobs/jobs.js";
import { blockText, CHANNEL, jobIdFrom, startSlackWorld, type SlackWorld, answerText } from "./helpers/slack-world.js";
import { remoteProcesses } from "./helpers/sshd.js";
import { eventually } from "./helpers/testum.js";

const HOSTS = 24;
/** Sleep lengths unique to this run: processes another run left behind are never mistaken for ours. */
const S = 10_000 + (process.pid % 50_000) * 10;
let world: SlackWorld;
const name = (i: number) => `web-${String(i + 1).padStart(2, "0")}`;

async function runJob(command: string): Promise<Job> {
  const res = await world.slash(command);
  const job = await world.finished(jobIdFrom(answerText(res)), 60_000);
  // The parent and the summary are edited to their final state just after the row ends.
  await eventually("the parent to show the outcome", () => !/Running on|Queued on/.test(parentText(job)), 30_000);
  return job;
}

const parentText = (job: Job) => blockText(world.slack.message(CHANNEL, job.parentMessage!.split(":")[3]!)!.blocks);
const liveText = (job: Job) => blockText(world.slack.message(CHANNEL, job.liveMessage!.split(":")[3]!)!.blocks);

beforeAll(async () => {
  world = await startSlackWorld({ hosts: HOSTS, testum: { env: { TESTUM_APPROVAL_HOSTS: "100" }, runOptions: { sweepEveryMs: 1000 } } });
  // A generous edit budget: this file is about hosts, not Slack's limits.
  world.slack.setRateLimit("chat.update", { perMinute: 6000, burst: 200, scope: "team" });
  world.slack.setRateLimit("chat.postMessage", { perMinute: 6000, burst: 200, scope: "channel" });
  await Promise.all(world.ssh.hosts.map((h, i) => world.addHost(name(i), h)));
  await world.testum.sql`update hosts set tags = '{"role": "web"}'::jsonb`;
  // web-21 … web-24 are the odd ones out.
  await Promise.all(world.ssh.hosts.map((h, i) => h.exec(`echo ${i < 20 ? "ok" : "bad"} > ~/mark; echo ${i < 3 ? "bad" : "ok"} > ~/mark2`)));
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

describe("many hosts at once", () => {
  it("shows what a target resolves to with --dry-run, and runs nothing", async () => {
    const before = (await world.testum.sql`select count(*)::int as n from jobs`)[0]!.n;
    const res = await world.slash("run --dry-run role=web 'reboot'");
    expect(answerText(res)).toContain("names 24 hosts; nothing ran");
    expect(answerText(res)).toContain("web-[01-24]");
    expect(answerText(res)).toContain("shutdown, reboot");
    expect((await world.testum.sql`select count(*)::int as n from jobs`)[0]!.n).toBe(before);
  });

  it("runs on every host, groups identical results with compact names, failures first, with a log per host and a report", async () => {
    const job = await runJob(`run role=web 'cat ~/mark; test "$(cat ~/mark)" = ok'`);
    expect(job.status).toBe("failed");
    const tasks = await world.tasks(job.id);
    expect(tasks.filter((t) => t.status === "succeeded")).toHaveLength(20);
    expect(
      tasks
        .filter((t) => t.status === "failed")
        .map((t) => t.hostName)
        .sort(),
    ).toEqual(["web-21", "web-22", "web-23", "web-24"]);

    const parent = parentText(job);
    expect(parent).toContain("Failed on 4 of 24 hosts");
    expect(parent).toMatch(/▓{20} 100%/);
    expect(parent).toContain("ok 20 · failed 4 · running 0 · queued 0 · skipped 0");

    await eventually("the summary in the thread", () => liveText(job).includes("Results of job"));
    const summary = liveText(job);
    const failures = summary.indexOf("exit 1 · 4 hosts: web-[21-24]");
    const successes = summary.indexOf("exit 0 · 20 hosts: web-[01-20]");
    expect(failures).toBeGreaterThan(-1);
    expect(successes).toBeGreaterThan(failures);
    expect(summary).toContain("bad");

    const keys = await world.s3.listKeys(`jobs/${job.id}/`);
    expect(keys.filter((k) => k.endsWith(".log"))).toHaveLength(24);
    expect(await world.s3.getObjectText(`jobs/${job.id}/web-22.log`)).toBe("bad\n");
    const report = /<(http:[^|>]+\/reports\/[^|>]+)\|Full report/.exec(parent)?.[1];
    expect(report).toBeDefined();
    const body = await (await fetch(report!)).text();
    expect(body.split("\n").filter((l) => /^web-\d\d /.test(l))).toHaveLength(24);
    expect(body).toMatch(/web-21\s+failed\s+1 /);
  });

  it("stops starting hosts after --max-failures and marks the rest skipped", async () => {
    const job = await runJob(`run role=web --parallel 1 --max-failures 2 'test "$(cat ~/mark2)" = ok'`);
    const tasks = await world.tasks(job.id);
    const byStatus = (s: string) =>
      tasks
        .filter((t) => t.status === s)
        .map((t) => t.hostName)
        .sort();
    expect(byStatus("failed")).toEqual(["web-01", "web-02"]);
    expect(byStatus("skipped")).toHaveLength(22);
    expect(tasks.find((t) => t.hostName === "web-24")!.error).toContain("--max-failures 2");
    expect(parentText(job)).toContain("22 skipped");
  });

  it("runs hosts in batches, one batch after another", async () => {
    const job = await runJob("run role=web --batch 8 'sleep 0.3'");
    expect(job.status).toBe("succeeded");
    const tasks = (await world.tasks(job.id)).sort((a, b) => a.hostName.localeCompare(b.hostName));
    for (let b = 1; b < 3; b++) {
      const previous = tasks.slice((b - 1) * 8, b * 8);
      const current = tasks.slice(b * 8, (b + 1) * 8);
      const lastEnd = Math.max(...previous.map((t) => t.finishedAt!.getTime()));
      const firstStart = Math.min(...current.map((t) => t.startedAt!.getTime()));
      expect(firstStart).toBeGreaterThanOrEqual(lastEnd);
    }
  });

  it("cancel kills the remote command and its children on every host", async () => {
    const res = await world.slash(`run role=web 'sleep ${S + 1} & sh -c "sleep ${S + 2}"; wait'`);
    const jobId = jobIdFrom(answerText(res));
    const sleepers = async () => new Set((await remoteProcesses(new RegExp(`^sleep (${S + 1}|${S + 2})$`))).map((p) => p.hostDir)).size;
    await eventually("every host to be running", async () => (await sleepers()) === HOSTS, 30_000);
    // The live message is posted by the delivery loop, as chat allows: wait for it.
    const job = await eventually("the live message", async () => ((await world.job(jobId)).liveMessage ? world.job(jobId) : undefined));
    await world.click(job.liveMessage!, `t1:cancel:${jobId}`, "U0STRANGER1");
    await eventually("the refusal", () => JSON.stringify(world.slack.responses().at(-1)?.body ?? "").includes("only the person who started job"));
    expect(await sleepers()).toBe(HOSTS);

    expect(answerText(await world.slash(`cancel ${jobId}`))).toContain(`Cancelling job #${jobId}`);
    const ended = await world.finished(jobId, 30_000);
    expect(ended.status).toBe("cancelled");
    await eventually("no sleep left on any host", async () => (await remoteProcesses(/sleep 61[78]/)).length === 0, 15_000);
    expect((await world.tasks(jobId)).every((t) => t.status === "cancelled")).toBe(true);
    await eventually("the parent to say cancelled", () => parentText(ended).includes("Cancelled on 24 hosts"));
    const [audit] = await world.testum.sql`select outcome from audit where action = 'job.cancel' and detail->>'job' = ${String(jobId)} and outcome <> 'refused'`;
    expect(audit!.outcome).toBe("stopping");
  });

  it("a timeout kills the remote command on every host", async () => {
    const job = await runJob(`run role=web --timeout 2s 'sleep ${S + 3}'`);
    expect(job.status).toBe("timed_out");
    expect((await world.tasks(job.id)).every((t) => t.status === "timed_out")).toBe(true);
    await eventually("no sleep left on any host", async () => (await remoteProcesses(new RegExp(`sleep ${S + 3}`))).length === 0, 15_000);
  });

  it("runs a script from a fenced block with its shebang, and removes it afterwards", async () => {
    const job = await runJob('script web-0* ```#!/bin/sh\necho "script ran as $(id -un) from $0"\nexit 0\n```');
    expect(job.status).toBe("succeeded");
    expect(job.kind).toBe("script");
    const tasks = await world.tasks(job.id);
    expect(tasks).toHaveLength(9);
    expect(await world.s3.getObjectText(`jobs/${job.id}/web-03.log`)).toMatch(/^script ran as testum-ssh from \/tmp\/testum-script\.\w+\n$/);
    const leftovers = await world.ssh.hosts[0]!.exec("ls /tmp/testum-script.* 2>/dev/null | wc -l");
    expect(leftovers.stdout.trim()).toBe("0");
    expect(answerText(await world.slash(`script web-01 \`\`\`${"x".repeat(17_000)}\`\`\``))).toMatch(/the script is 17000 bytes; the limit is 16384/);
  });

  it("lists recent jobs, shows one job's results, and links its logs", async () => {
    const list = answerText(await world.slash("jobs"));
    expect(list).toMatch(/#\d+\s+cancelled/);
    const [first] = await world.testum.sql`select id from jobs where command like 'cat ~/mark;%' order by id limit 1`;
    const show = answerText(await world.slash(`jobs show ${first!.id}`));
    expect(show).toContain("ok 20 · failed 4");
    expect(show).toMatch(/exit 1\s+web-\[21-24\]/);
    const logs = answerText(await world.slash(`logs ${first!.id} web-22`));
    expect(logs).toMatch(/\/logs\/[A-Za-z0-9_-]+\/web-22\|web-22 \(failed\)/);
  });
});
