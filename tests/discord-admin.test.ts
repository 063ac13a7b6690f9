import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { componentInteraction, modalSubmitInteraction } from "./helpers/discord-sign.js";
import { jobIdFrom, startDiscordWorld, type DiscordWorld } from "./helpers/discord-world.js";
import { eventually } from "./helpers/testum.js";

let world: DiscordWorld;

beforeAll(async () => {
  world = await startDiscordWorld({ hosts: 1 });
});

afterAll(async () => {
  await world?.stop();
});

describe("host and key administration from Discord", () => {
  it("adds a host from chat that works once testum's key is on it, and deploys a team key to it", async () => {
    const host = world.ssh.hosts[0]!;
    const added = await world.command(["hosts", "add"], { host: "web-1", address: `${world.ssh.user}@127.0.0.1:${host.port}`, tags: "role=web env=prod" });
    expect(added.text).toContain("Added web-1");
    const line = /(ssh-ed25519 \S+ testum@\S+)/.exec((await world.command(["identity"])).text)?.[1];
    expect(line).toBeDefined();
    await host.exec(`printf '%s\\n' '${line}' >> ~/.ssh/authorized_keys`);
    expect((await world.command(["hosts", "test"], { host: "web-1" })).text).toContain("authentication: accepted");

    const dir = mkdtempSync(join(tmpdir(), "dk-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "dana@desk", "-f", join(dir, "k")], { timeout: 30_000 });
    const pub = readFileSync(join(dir, "k.pub"), "utf8").trim();
    expect((await world.command(["keys", "add"], { key: "dana", line: pub })).text).toContain("Added key dana");
    const deployed = await world.command(["keys", "deploy"], { key: "dana", target: "role=web" });
    expect(deployed.text).toMatch(/web-1\s+added 1/);
    expect((await host.exec("cat ~/.ssh/authorized_keys")).stdout).toContain(`${pub} testum:key:dana`);
    expect((await world.command(["keys", "status"], { target: "web-1" })).text).toContain("present: dana");

    const job = await world.finished(jobIdFrom((await world.command(["run"], { target: "web-1", command: "echo via identity" })).text));
    expect(job.status).toBe("succeeded");
  });

  it("refuses a private key pasted into keys add, and keeps it nowhere", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dk-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "k")], { timeout: 30_000 });
    const secret = readFileSync(join(dir, "k"), "utf8");
    const answer = await world.command(["keys", "add"], { key: "oops", line: secret.replace(/\n/g, " ") });
    expect(answer.text).toContain("That is a PRIVATE key");
    const body = secret.split("\n")[2]!;
    expect(answer.text).not.toContain(body);
    const dump = JSON.stringify(await world.testum.sql`select (select json_agg(a) from audit a) as audit, (select json_agg(k) from team_keys k) as keys`);
    expect(dump).not.toContain(body);
    expect(JSON.stringify(world.discord.messages())).not.toContain(body);
  });
});

describe("redaction patterns from Discord", () => {
  it("are added, listed and removed by an admin with the command's options", async () => {
    const added = await world.command(["redact", "add"], { name: "acme_key", pattern: "acme_[a-z0-9]{12}" });
    // Discord's markdown escapes the underscores.
    const plain = (text: string) => text.replace(/\\/g, "");
    expect(plain(added.text)).toContain("Redaction pattern acme_key added");
    expect(plain((await world.command(["redact", "list"])).text)).toContain("acme_[a-z0-9]{12}");
    const job = await world.finished(jobIdFrom((await world.command(["run"], { target: "web-1", command: "echo acme_0123456789ab" })).text));
    const [task] = await world.testum.sql<{ tail: string }[]>`select tail from job_tasks where job_id = ${job.id}`;
    expect(task!.tail).toBe("[redacted:acme_key]");
    expect(plain((await world.command(["redact", "rm"], { name: "acme_key" })).text)).toContain("Redaction pattern acme_key removed");
    const audit = await world.testum.sql`select action, target, outcome from audit where action in ('redaction.add', 'redaction.remove') order by id`;
    expect(audit).toEqual([
      { action: "redaction.add", target: "acme_key", outcome: "added" },
      { action: "redaction.remove", target: "acme_key", outcome: "removed" },
    ]);
  });
});

describe("scripts and cancel from Discord", () => {
  it("takes a script in a modal and runs it", async () => {
    const opened = await world.command(["script"], { target: "web-1" });
    expect(opened.body?.type).toBe(9);
    const modal = opened.body!.data as { custom_id: string; components: Array<{ components: Array<{ custom_id: string; style: number }> }> };
    expect(modal.custom_id).toBe("t1:script:web-1||||");
    expect(modal.components[0]!.components[0]!.style).toBe(2);
    const submitted = await world.send(modalSubmitInteraction({ ...world.base(), customId: modal.custom_id, fields: { script: "#!/bin/sh\necho from a modal" } }));
    const job = await world.finished(jobIdFrom(submitted.text));
    expect(job.status).toBe("succeeded");
    expect(job.kind).toBe("script");
    expect(await world.s3.getObjectText(`jobs/${job.id}/web-1.log`)).toBe("from a modal\n");
  });

  it("stops a running job from the Cancel button on its live message", async () => {
    const started = await world.command(["run"], { target: "web-1", command: "sleep 641" });
    const jobId = jobIdFrom(started.text);
    await eventually("the command to run", async () => (await world.ssh.hosts[0]!.processes(/^sleep 641$/)).length === 1, 20_000);
    // The live message is posted by the delivery loop, as chat allows: wait for it.
    const job = await eventually("the live message", async () => ((await world.job(jobId)).liveMessage ? world.job(jobId) : undefined));
    const live = world.discord.message(job.liveMessage!.split(":").at(-1)!)!;
    const buttons = (live.components as unknown as Array<{ components: Array<{ custom_id: string }> }>)[0]!.components.map((c) => c.custom_id);
    expect(buttons).toEqual([`t1:cancel:${jobId}`]);
    const clicked = await world.send(componentInteraction({ ...world.base(), channelId: live.channel_id, customId: `t1:cancel:${jobId}`, message: live }));
    expect(clicked.text).toContain(`Cancelling job #${jobId}`);
    expect((await world.finished(jobId)).status).toBe("cancelled");
    await eventually("the remote sleep to be gone", async () => (await world.ssh.hosts[0]!.processes(/sleep 641/)).length === 0, 15_000);
  });
});

describe("scheduled reports from Discord", () => {
  it("adds a schedule with typed options; each fire posts a report to the channel", async () => {
    const added = await world.command(["schedule", "add"], { cron: "*/2 * * * * *", target: "web-1", command: "echo scheduled", name: "ping", "on-change": false });
    expect(added.text).toMatch(/Schedule #\d+ "ping": every 2 seconds \(UTC\), on web-1/);
    const id = Number(/Schedule #(\d+)/.exec(added.text)![1]);
    const reports = () => world.discord.messages(world.discord.channelId).filter((m) => JSON.stringify(m.embeds).includes(`(schedule #${id})`));
    await eventually("two reports", () => reports().length >= 2, 15_000);
    expect((await world.command(["schedule", "rm"], { schedule: id })).text).toContain(`Deleted schedule #${id}`);
    expect(world.discord.pings()).toEqual([]);
  });
});
