import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockText, CHANNEL, jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { freePort } from "./helpers/sshd.js";
import { eventually } from "./helpers/testum.js";

let world: SlackWorld;

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 2 });
  await world.addHost("web-1", world.ssh.hosts[0]!);
  await world.addHost("rebuilt", world.ssh.hosts[1]!);
});

afterAll(async () => {
  await world?.stop();
});

function replyText(json: Record<string, unknown> | undefined): string {
  return `${String(json?.text ?? "")}\n${blockText((json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

async function runAndWait(text: string) {
  const res = await world.slash(text);
  const job = await world.finished(jobIdFrom(replyText(res.json)));
  const [task] = await world.tasks(job.id);
  const ts = job.parentMessage!.split(":")[3]!;
  // The parent is edited to its final state just after the job row ends.
  const parent = await eventually("the parent message to show the outcome", () => {
    const message = world.slack.message(CHANNEL, ts)!;
    return /Running on|Queued on/.test(blockText(message.blocks)) ? undefined : message;
  });
  return { job, task: task!, parentText: blockText(parent.blocks), parent };
}

describe("failures are told apart in chat", () => {
  it("says the connection was refused when nothing listens on the port", async () => {
    await world.addHost("closed-port", world.ssh.hosts[0]!, { port: await freePort() });
    const { job, task, parentText } = await runAndWait("run closed-port 'uptime'");
    expect(job.status).toBe("failed");
    expect(task.errorCode).toBe("ssh_connect_failed");
    expect(parentText).toContain("could not connect");
    expect(parentText).toContain("connection refused");
    expect(task.exitCode).toBeNull();
  });

  it("says authentication was refused when the key is not accepted", async () => {
    const stranger = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs1", format: "pem" },
    }).privateKey;
    await world.addHost("wrong-key", world.ssh.hosts[0]!, { privateKey: stranger });
    const { task, parentText } = await runAndWait("run wrong-key 'uptime'");
    expect(task.errorCode).toBe("ssh_auth_failed");
    expect(parentText).toContain("authentication refused");
    expect(parentText).toContain("refused authentication as testum-ssh");
  });

  it("pins the host key on first contact and refuses a changed key, naming both fingerprints", async () => {
    const host = world.ssh.hosts[1]!;
    const first = await runAndWait("run rebuilt 'true'");
    expect(first.job.status).toBe("succeeded");
    const [pinned] = await world.testum.sql`select host_key_fingerprint from hosts where name = 'rebuilt'`;
    expect(pinned!.hostKeyFingerprint).toBe(host.hostKeyFingerprint);

    const oldFingerprint = host.hostKeyFingerprint;
    const newFingerprint = await host.regenerateHostKey();
    expect(newFingerprint).not.toBe(oldFingerprint);
    const second = await runAndWait("run rebuilt 'touch ~/should-not-exist'");
    expect(second.job.status).toBe("failed");
    expect(second.task.errorCode).toBe("host_key_mismatch");
    expect(second.parentText).toContain("HOST KEY CHANGED");
    expect(second.parentText).toContain(oldFingerprint);
    expect(second.parentText).toContain(newFingerprint);
    const probe = await host.exec("test -e ~/should-not-exist && echo present || echo absent");
    expect(probe.stdout.trim()).toBe("absent");
    const audit = await world.testum.sql`select detail from audit where action = 'host_key.mismatch' and target = 'rebuilt'`;
    expect(audit).toHaveLength(1);
    expect(audit[0]!.detail).toMatchObject({ expected: oldFingerprint, presented: newFingerprint });
  });

  it("shows the tail of 50,000 lines in chat while the log keeps every line", async () => {
    const { job, parent } = await runAndWait("run web-1 'seq 1 50000'");
    expect(job.status).toBe("succeeded");
    const live = await eventually("the live message to show the end", () => {
      const reply = world.slack.replies(CHANNEL, parent.ts)[0];
      return reply && blockText(reply.blocks).includes("\n50000") ? reply : undefined;
    });
    const text = blockText(live.blocks);
    expect(text).toContain("\n50000");
    expect(text).toMatch(/earlier lines in the full log/);
    expect(text).not.toMatch(/^1\n2\n3\n/m);
    const link = /<(http:[^|>]+)\|Full log>/.exec(blockText(parent.blocks))![1]!;
    const body = await (await fetch(link)).text();
    const lines = body.trimEnd().split("\n");
    expect(lines).toHaveLength(50_000);
    expect(lines[0]).toBe("1");
    expect(lines[49_999]).toBe("50000");
  });

  it("escapes output so it can never mention @channel, @here or a user", async () => {
    // printf writes the angle brackets, so the command text itself holds none.
    const { parent } = await runAndWait(`run web-1 'printf "\\074!channel\\076 \\074!here\\076 \\074@U0ADMIN0001\\076 & done\\n"'`);
    const live = await eventually("the live message to show the output", () => {
      const reply = world.slack.replies(CHANNEL, parent.ts)[0];
      return reply && JSON.stringify(reply.blocks).includes("done") ? reply : undefined;
    });
    const rendered = JSON.stringify(live.blocks);
    // In rich_text elements text is literal; in mrkdwn the brackets must be escaped.
    const mrkdwnTexts = blockText(live.blocks.filter((b) => b.type !== "rich_text"));
    expect(mrkdwnTexts).not.toMatch(/<!channel>|<!here>|<@U/);
    expect(rendered).toContain("<!channel>");
    expect(live.blocks.find((b) => b.type === "rich_text")).toBeDefined();
    expect(live.text).not.toMatch(/<!channel>|<!here>|<@U/);
  });

  it("kills the remote command when it passes its timeout, and says so", async () => {
    // A child and a grandchild, each with an argument unique to this test.
    const { job, parentText } = await runAndWait(`run --timeout 2s web-1 'sleep 3017 & sh -c "sleep 3018"; wait'`);
    expect(job.status).toBe("timed_out");
    expect(parentText).toContain("Timed out on web-1 after 2.0s");
    await eventually("the remote sleeps to be gone", async () => (await world.ssh.hosts[0]!.processes(/sleep 301[78]/)).length === 0, 10_000);
  });

  it("still posts the final status through a storm of 429s", async () => {
    world.slack.failNext("chat.update", { status: 429, retryAfter: 1 }, 4);
    const { job, parent } = await runAndWait("run web-1 'for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done'");
    expect(job.status).toBe("succeeded");
    await eventually("the final status to be shown", () => blockText(world.slack.message(CHANNEL, parent.ts)!.blocks).includes("Succeeded on web-1"), 30_000);
    const live = world.slack.replies(CHANNEL, parent.ts)[0]!;
    await eventually("the live message to show all lines", () => blockText(world.slack.message(CHANNEL, live.ts)!.blocks).includes("line 5"), 30_000);
    expect(world.slack.rateLimitedCount("chat.update")).toBeGreaterThanOrEqual(1);
  });
});
