import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addHost } from "../src/core/hosts/hosts.js";
import { createSecretBox } from "../src/core/hosts/secret-box.js";
import { PLANTED, PLANTED_OUTPUT } from "../src/core/jobs/redact-samples.js";
import { jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually, TEST_MASTER_KEY } from "./helpers/testum.js";

let world: SlackWorld;
const logLines: string[] = [];
/** What the host prints: the planted secrets, with the host's real password in the place of the made-up one. */
let planted: string;
let secrets: string[];

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 1, testum: { logLines } });
  const host = world.ssh.hosts[0]!;
  planted = PLANTED_OUTPUT.replace(PLANTED.host_password, world.ssh.password);
  secrets = [...Object.values(PLANTED).filter((s) => s !== PLANTED.host_password), world.ssh.password];
  await host.exec(`echo ${Buffer.from(planted).toString("base64")} | base64 -d > secrets.txt`);
  // The same host, reached with a password testum holds (a password goes only to a pinned host key).
  const box = createSecretBox([Buffer.from(TEST_MASTER_KEY, "base64")]);
  await addHost(world.testum.sql, box, {
    name: "vault-1",
    address: host.host,
    port: host.port,
    username: world.ssh.user,
    credential: { type: "password", password: world.ssh.password },
    fingerprint: host.hostKeyFingerprint,
    createdBy: "test",
  });
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

/** Every place a job's output could reach outside the worker, as text. */
async function everywhere(jobId: number): Promise<Record<string, string>> {
  const job = await world.job(jobId);
  // The final views are delivered by the chat loop, on its own time.
  const messages = await eventually("chat to show the job's final views", async () => {
    const rows = await world.testum.sql<{ version: number; deliveredVersion: number; done: boolean }[]>`
      select m.*, j.finished_at is not null as done from job_messages m join jobs j on j.id = m.job_id where m.job_id = ${jobId}`;
    return rows.length >= 2 && rows.every((r) => r.done && r.deliveredVersion === r.version) ? rows : undefined;
  });
  const text = async (path: string) => (await fetch(`${world.testum.url}${path}`)).text();
  const audit = [await world.testum.sql`select * from audit`, await world.testum.sql`select * from audit_pending`];
  const rows = await world.testum.sql`select * from job_tasks where job_id = ${jobId}`;
  return {
    chat: JSON.stringify([world.slack.calls(), world.slack.responses()]),
    messages: JSON.stringify(messages),
    log: await text(`/logs/${job.logToken}/vault-1`),
    report: await text(`/reports/${job.logToken}`),
    page: (await text(`/jobs/${job.id}/${job.logToken}`)) + (await text(`/jobs/${job.id}/${job.logToken}/state`)),
    tasks: JSON.stringify(rows),
    audit: JSON.stringify(audit),
    testumLog: logLines.join("\n"),
  };
}

function expectNoSecret(places: Record<string, string>): void {
  for (const [place, text] of Object.entries(places)) {
    for (const secret of secrets) expect(text.includes(secret), `${place} shows ${secret}`).toBe(false);
  }
}

describe("secrets in a host's output", () => {
  it("reach neither chat, the log store, the report, the job page, the audit log nor testum's log", async () => {
    const res = await world.slash("run vault-1 'cat secrets.txt'");
    const id = jobIdFrom(String(res.json?.text));
    expect((await world.finished(id)).status).toBe("succeeded");
    const places = await everywhere(id);
    expectNoSecret(places);
    // The rest of the output is there, secrets replaced in place.
    expect(places.log).toContain("starting backup\n");
    expect(places.log).toContain("GH_PAT [redacted:github_token] in use");
    expect(places.log).toContain("\n[redacted:private_key]\nlogin with [redacted:host_password] worked\n");
    expect(places.log).toContain("ünïcödé intact");
    expect(places.chat).toContain("[redacted:jwt]");
    for (const place of ["page", "tasks", "messages"]) expect(places[place], place).toContain("[redacted:host_password]");
  });

  it("reach neither the schedule's report in the channel nor anything else of a scheduled run", async () => {
    const added = String((await world.slash("schedule add '0 3 1 1 *' vault-1 'cat secrets.txt' --name vault")).json?.text);
    const schedule = Number(/Schedule #(\d+)/.exec(added)?.[1]);
    const ran = String((await world.slash(`schedule run ${schedule}`)).json?.text);
    const id = Number(/job #(\d+)/.exec(ran)?.[1]);
    expect((await world.finished(id)).status).toBe("succeeded");
    const places = await everywhere(id);
    expectNoSecret(places);
    expect(places.messages).toContain("[redacted:host_password]");
  });

  it("are caught when the host prints them in two packets, split inside a secret", async () => {
    const bytes = Buffer.from(planted);
    // Cut in the middle of the GitHub token, the JWT and the host's password.
    for (const secret of [PLANTED.github_token, PLANTED.jwt, world.ssh.password]) {
      const at = bytes.indexOf(secret) + Math.floor(secret.length / 2);
      const res = await world.slash(`run vault-1 'head -c ${at} secrets.txt; sleep 0.3; tail -c +${at + 1} secrets.txt'`);
      const id = jobIdFrom(String(res.json?.text));
      expect((await world.finished(id)).status).toBe("succeeded");
      const places = await everywhere(id);
      expectNoSecret(places);
      expect(places.log).toContain("worked\n");
    }
  });
});
