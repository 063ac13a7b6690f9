import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3, type TestS3 } from "../helpers/s3.js";
import { blockText, CHANNEL, jobIdFrom, startSlackWorld, type SlackWorld, replyText } from "../helpers/slack-world.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { eventually } from "../helpers/testum.js";

// The log store (S3) behind a proxy that can stop answering (black hole) or answer
// every request with 500. The command's own outcome is kept, the job ends within
// its deadline plus the log grace period, and the thread says the log was not stored.

const LOG_GRACE_MS = 3000;
let world: SlackWorld;
let s3: TestS3;
let proxy: TcpProxy;

async function finalParent(jobId: number) {
  const job = await world.finished(jobId, 90_000);
  const ts = job.parentMessage!.split(":")[3]!;
  const parent = await eventually("the parent message to show the outcome", () => {
    const message = world.slack.message(CHANNEL, ts)!;
    return /Running on|Queued on/.test(blockText(message.blocks)) ? undefined : message;
  });
  return { job, text: blockText(parent.blocks) };
}

async function readyz() {
  const res = await fetch(`${world.testum.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

beforeAll(async () => {
  s3 = await startS3();
  proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(s3.endpoint).port) });
  world = await startSlackWorld({ hosts: 1, testum: { env: { S3_ENDPOINT: proxy.url, S3_BUCKET: s3.bucket }, runOptions: { logGraceMs: LOG_GRACE_MS } } });
  await world.addHost("web-1", world.ssh.hosts[0]!);
});

afterAll(async () => {
  await world?.stop();
  await proxy?.close();
  await s3?.close();
});

describe("a log store that does not answer", () => {
  it("stores logs while it answers, and /readyz says so", async () => {
    const res = await world.slash("run web-1 'echo stored-fine'");
    const { job } = await finalParent(jobIdFrom(replyText(res.json)));
    expect(job.status).toBe("succeeded");
    const [task] = await world.tasks(job.id);
    expect(await s3.getObjectText(task!.logKey!)).toContain("stored-fine");
    expect(await readyz()).toEqual({ status: 200, body: { postgres: "ok", redis: "ok", logs: "ok" } });
  });

  it("black-holed: the job ends by its deadline plus the grace period, keeps the command's outcome and says the log was not stored", async () => {
    await proxy.set("blackhole");
    const ready = await readyz();
    expect(ready.body.logs).toBe("unavailable");
    expect(ready.status).toBe(200);
    const started = Date.now();
    const res = await world.slash("run web-1 'echo hello-s3' --timeout 5s");
    const { job, text } = await finalParent(jobIdFrom(replyText(res.json)));
    expect(job.status).toBe("succeeded");
    const [task] = await world.tasks(job.id);
    expect(task!.exitCode).toBe(0);
    expect(task!.logKey).toBeNull();
    expect(task!.error).toContain("could not be stored");
    expect(task!.error).toContain("did not finish storing");
    expect(text).toContain("could not be stored");
    // Deadline 5 s + grace 3 s and some slack: far from forever.
    expect(Date.now() - started).toBeLessThan(30_000);
    // The final state is recorded when the job ends, not once the report's upload gives up (its own grace later).
    const [parent] = await world.testum.sql<{ stateAt: Date }[]>`select state_at from job_messages where job_id = ${job.id} and slot = 'parent' and final`;
    expect(parent!.stateAt.getTime() - job.finishedAt!.getTime()).toBeLessThan(LOG_GRACE_MS / 2);
    expect(job.reportKey).toBeNull();
  }, 60_000);

  it("black-holed: cancel ends a job whose log upload hangs", async () => {
    await proxy.set("blackhole");
    const res = await world.slash("run web-1 'echo before-cancel' --timeout 10m");
    const id = jobIdFrom(replyText(res.json));
    // The command is done; only its log is pending.
    await eventually("the command to finish", async () =>
      (await world.tasks(id))[0]?.tail?.includes("before-cancel") || !["queued", "running"].includes((await world.job(id)).status) ? true : undefined,
    );
    const started = Date.now();
    await world.slash(`cancel ${id}`);
    const { job } = await finalParent(id);
    expect(["cancelled", "succeeded"]).toContain(job.status);
    const [task] = await world.tasks(id);
    // The cancel may also reach the command in its last moment; either way the job ends, saying so.
    expect([0, null]).toContain(task!.exitCode);
    expect(task!.error).toContain("could not be stored");
    expect(Date.now() - started).toBeLessThan(45_000);
  }, 90_000);

  it("answering 500: the job says the log was not stored, and later jobs store logs again once it recovers", async () => {
    await proxy.set("http500");
    const res = await world.slash("run web-1 'echo s3-500'");
    const { job, text } = await finalParent(jobIdFrom(replyText(res.json)));
    expect(job.status).toBe("succeeded");
    const [task] = await world.tasks(job.id);
    expect(task!.logKey).toBeNull();
    expect(text).toContain("could not be stored");
    expect(text).toContain("the log store refused it or could not be reached");
    // Where the store is, and its own error text, stay out of chat.
    for (const detail of [s3.bucket, proxy.url, new URL(proxy.url).host, "InternalError"]) {
      expect(text).not.toContain(detail);
      expect(task!.error).not.toContain(detail);
    }

    await proxy.set("pass");
    const again = await world.slash("run web-1 'echo s3-back'");
    const { job: later } = await finalParent(jobIdFrom(replyText(again.json)));
    const [laterTask] = await world.tasks(later.id);
    expect(await s3.getObjectText(laterTask!.logKey!)).toContain("s3-back");
    expect((await readyz()).body.logs).toBe("ok");
  }, 90_000);
});
