import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addHost } from "../src/core/hosts/hosts.js";
import { PLANTED, PLANTED_OUTPUT } from "../src/core/jobs/redact-samples.js";
import { jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";
import { testBox } from "./helpers/hosts.js";

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
  const box = testBox();
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
  // The final views are recorded just after the job ends, and delivered by the chat loop on its own time.
  const messages = await eventually("chat to show the job's final views", async () => {
    const rows = await world.testum.sql<{ slot: string; view: unknown; version: number; deliveredVersion: number }[]>`
      select * from job_messages where job_id = ${jobId}`;
    const final = rows.some((r) => r.slot === "parent" && JSON.stringify(r.view).includes("Succeeded"));
    return final && rows.length >= 2 && rows.every((r) => r.deliveredVersion === r.version) ? rows : undefined;
  });
  const text = async (path: string) => (await fetch(`${world.testum.url}${path}`)).text();
  const audit = [await world.testum.sql`select * from audit`, await world.testum.sql`select * from audit_pending`];
  const rows = await world.testum.sql`select * from job_tasks where job_id = ${jobId}`;
  return {
    chat: JSON.stringify([world.slack.calls(), world.slack.responses()]),
    messages: JSON.stringify(messages),
    log: await text(`/logs/${job.logToken}/vault-1`),
    // Stored alongside the final views, so it may come a moment after them.
    report: await eventually("the report", async () => {
      const res = await fetch(`${world.testum.url}/reports/${job.logToken}`);
      return res.ok ? res.text() : undefined;
    }),
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

describe("the host's own secrets and patterns of one's own, from Slack", () => {
  it("hide the passphrase of the key testum holds for the host", async () => {
    const host = world.ssh.hosts[0]!;
    const passphrase = "pass-phrase-of-the-host-key";
    const dir = mkdtempSync(join(tmpdir(), "redact-key-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", "redaction-test", "-f", join(dir, "k")], { timeout: 30_000 });
    await host.exec(`echo '${readFileSync(join(dir, "k.pub"), "utf8").trim()}' >> ~/.ssh/authorized_keys`);
    await addHost(world.testum.sql, testBox(), {
      name: "locked-1",
      address: host.host,
      port: host.port,
      username: world.ssh.user,
      credential: { type: "key", privateKey: readFileSync(join(dir, "k"), "utf8"), passphrase },
      createdBy: "test",
    });
    const id = jobIdFrom(String((await world.slash(`run locked-1 'echo unlocked with ${passphrase}.'`)).json?.text));
    expect((await world.finished(id)).status).toBe("succeeded");
    const job = await world.job(id);
    const log = await (await fetch(`${world.testum.url}/logs/${job.logToken}/locked-1`)).text();
    expect(log).toBe("unlocked with [redacted:host_passphrase].\n");
  });

  it("take a pattern an admin adds, and refuse anyone else", async () => {
    const refused = String((await world.slash("redact add mine 'mine_[0-9]{6}'", "U0STRANGER1")).json?.text);
    expect(refused).toMatch(/you need admin/);
    expect(String((await world.slash("redact add order_id 'ORD-[0-9]{6}'")).json?.text)).toContain("Redaction pattern order_id added");
    const id = jobIdFrom(String((await world.slash("run vault-1 'echo order ORD-123456 shipped'")).json?.text));
    expect((await world.finished(id)).status).toBe("succeeded");
    const [task] = await world.tasks(id);
    expect(task!.tail).toBe("order [redacted:order_id] shipped");
    const audit = await world.testum.sql`select actor, outcome from audit where action = 'redaction.add' order by id`;
    expect(audit).toEqual([
      { actor: expect.stringContaining("U0STRANGER1"), outcome: "refused" },
      { actor: expect.stringContaining("U0ADMIN0001"), outcome: "added" },
    ]);
  });
});
