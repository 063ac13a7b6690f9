import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addHost } from "../src/core/hosts/hosts.js";
import { jobProbes } from "./helpers/jobs.js";
import { freePort, startSshHosts, type SshHostSet } from "./helpers/sshd.js";
import { eventually, startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";
import { testBox } from "./helpers/hosts.js";

let ssh: SshHostSet;
let testum: TestumUnderTest;
let cookie: string;

beforeAll(async () => {
  ssh = await startSshHosts(1);
  // The playground and the local log store: what a first start without S3 uses.
  testum = await startTestumForTest();
  const box = testBox();
  const credential = { type: "key", privateKey: ssh.clientPrivateKey } as const;
  await addHost(testum.sql, box, { name: "web-1", address: "127.0.0.1", port: ssh.hosts[0]!.port, username: ssh.user, credential, createdBy: "test" });
  // Nothing listens here: the host fails to connect.
  await addHost(testum.sql, box, { name: "web-2", address: "127.0.0.1", port: await freePort(), username: ssh.user, credential, createdBy: "test" });
  const start = await fetch(testum.running.playgroundUrl!, { redirect: "manual" });
  cookie = String(start.headers.get("set-cookie")).split(";")[0]!;
}, 120_000);

afterAll(async () => {
  await testum?.stop();
  await ssh?.stop();
});

async function command(text: string): Promise<void> {
  const res = await fetch(`${testum.url}/playground/api/command`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-testum-playground": "1", origin: testum.url, cookie },
    body: JSON.stringify({ as: "local:alice", text }),
  });
  expect(res.status).toBe(200);
}

describe("the full report and the logs in the local log store", () => {
  it("the report lists every host, and the log of a host that could not connect says why", async () => {
    await command("/testum run web-1,web-2 'echo fast first line'");
    const probes = jobProbes(testum.sql);
    const [row] = await testum.sql<{ id: number }[]>`select id from jobs order by id desc limit 1`;
    const job = await probes.finished(row!.id);
    expect(job.status).toBe("failed");

    const report = await eventually("the report", async () => {
      const res = await fetch(`${testum.url}/reports/${job.logToken}`);
      const text = res.ok ? await res.text() : "";
      return text.length > 0 ? text : undefined;
    });
    expect(report).toContain(`testum job #${job.id}: echo fast first line`);
    expect(report).toMatch(/web-1 +succeeded/);
    expect(report).toMatch(/web-2 +failed/);

    const ok = await (await fetch(`${testum.url}/logs/${job.logToken}/web-1`)).text();
    expect(ok).toBe("fast first line\n");
    const failed = await (await fetch(`${testum.url}/logs/${job.logToken}/web-2`)).text();
    expect(failed).toMatch(/^testum: .*web-2/);
    const [task] = await testum.sql<{ error: string }[]>`select error from job_tasks where job_id = ${job.id} and host_name = 'web-2'`;
    expect(failed).toBe(`testum: ${task!.error}\n`);
  });
});
