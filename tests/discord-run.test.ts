import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { API } from "@discordjs/core/http-only";
import { REST } from "@discordjs/rest";
import { ChannelType } from "discord-api-types/v10";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiscordApi, createDiscordChat } from "../src/adapters/discord/chat.js";
import { createRedisBudget } from "../src/adapters/redis/budget.js";
import { TestumError } from "../src/core/errors.js";
import type { RateBudget } from "../src/core/ports.js";
import { autocompleteInteraction, commandInteraction, modalSubmitInteraction, pingInteraction, postSignedDiscord, snowflake } from "./helpers/discord-sign.js";
import { jobIdFrom, logLink, messageText, startDiscordWorld, type DiscordWorld, type Member } from "./helpers/discord-world.js";
import { freePort } from "./helpers/sshd.js";
import { eventually, TEST_MASTER_KEY } from "./helpers/testum.js";

let world: DiscordWorld;
/** The test's own bot client, to act on the fake as a moderator would. */
let moderator: API;
const logLines: string[] = [];

beforeAll(async () => {
  world = await startDiscordWorld({ hosts: 2, testum: { logLines } });
  await world.addHost("prod-db", world.ssh.hosts[0]!);
  await world.addHost("web-1", world.ssh.hosts[1]!);
  moderator = new API(new REST({ api: world.discord.api, version: "10" }).setToken(world.discord.botToken));
});

afterAll(async () => {
  await world?.stop();
});

const stranger: Member = { id: snowflake(), username: "mallory" };

/** Runs a command as the admin and waits until the parent message shows the outcome. */
async function runAndWait(target: string, command: string) {
  const answer = await world.command(["run"], { target, command });
  const job = await world.finished(jobIdFrom(answer.text));
  const [task] = await world.tasks(job.id);
  const parentId = job.parentMessage!.split(":")[3]!;
  const parent = await eventually("the parent message to show the outcome", () => {
    const message = world.discord.message(parentId)!;
    return /Running on|Queued on/.test(messageText(message)) ? undefined : message;
  });
  const threadId = job.thread!.split(":")[2]!;
  const live = await eventually("the live message to show the outcome", () => {
    const message = world.discord.messages(threadId)[0];
    return message && /(succeeded|failed|timed out) on/.test(messageText(message)) ? message : undefined;
  });
  return { answer, job, task: task!, parent, parentText: messageText(parent), threadId, live };
}

describe("/testum run from Discord", () => {
  it("says at start that Discord is on, and where Discord should send interactions", () => {
    expect(logLines.some((line) => line.includes(`Discord: on, interactions posted to ${world.testum.url}/discord/interactions (DISCORD_PUBLIC_KEY is set)`))).toBe(true);
  });

  it("answers privately within 3 s, then posts a parent, a thread on it and a live message that ends with the log link", async () => {
    await world.ssh.hosts[0]!.exec("rm -f ~/discord-run-go");
    // The command goes on only once the test has seen its live output, so the live message is edited afterwards whatever the load.
    const command = "echo hello; while [ ! -e ~/discord-run-go ]; do sleep 0.1; done; echo from testum; echo oops >&2";
    const answer = await world.command(["run"], { target: "prod-db", command });
    expect(answer.status).toBe(200);
    expect(answer.ms).toBeLessThan(3000);
    expect(answer.body).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    expect(answer.text).toMatch(/Job #\d+ queued on prod-db/);
    const id = jobIdFrom(answer.text);
    const midway = await eventually("the live message showing the first line", async () => {
      const threadId = (await world.job(id)).thread?.split(":")[2];
      const message = threadId === undefined ? undefined : world.discord.messages(threadId)[0];
      return message?.content.includes("hello") ? message.content : undefined;
    });
    expect(midway).not.toContain("from testum");
    await world.ssh.hosts[0]!.exec("touch ~/discord-run-go");

    const job = await world.finished(id);
    expect(job.status).toBe("succeeded");
    const parentId = job.parentMessage!.split(":")[3]!;
    expect(job.parentMessage).toBe(`discord:${world.discord.guildId}:${world.discord.channelId}:${parentId}`);
    expect(job.thread).toBe(`discord:${world.discord.guildId}:${parentId}`);
    const parent = await eventually("the final status", () => {
      const message = world.discord.message(parentId)!;
      return messageText(message).includes("Succeeded on prod-db") ? message : undefined;
    });
    expect(parent.channel_id).toBe(world.discord.channelId);
    const parentText = messageText(parent);
    expect(parentText).toContain("echo hello");
    expect(parentText).toContain("Requested by: Alice (ops)");
    expect(parentText).toContain("Exit code: 0");

    const thread = world.discord.channel(parentId);
    expect(thread).toMatchObject({ type: 11, parent_id: world.discord.channelId, thread_metadata: { auto_archive_duration: 1440, archived: false } });
    // Discord caps a thread's name at 100 characters: a longer one ends with an ellipsis.
    expect((thread as { name: string }).name).toBe(`${`#${id} prod-db: ${command}`.slice(0, 99)}…`);

    // The live message is a message of its own: its last edit may land after the parent's.
    const live = await eventually("the live message's final output", () => {
      const message = world.discord.messages(parentId)[0];
      return message?.content === "```\nhello\nfrom testum\noops\n```" && logLink(message) ? message : undefined;
    });
    expect(world.discord.messages(parentId)).toHaveLength(1);
    expect(live.edits.length).toBeGreaterThanOrEqual(1);
    expect(job.liveMessage).toBe(`discord:${world.discord.guildId}:${parentId}:${live.id}`);

    const link = logLink(parent);
    expect(link).toBeDefined();
    expect(logLink(live)).toBe(link);
    const log = await fetch(link!);
    expect(log.status).toBe(200);
    expect(await log.text()).toBe("hello\nfrom testum\noops\n");

    // Every message and edit testum sent forbade mentions.
    const writes = world.discord.requests().filter((r) => /^\/channels\/\d+\/messages/.test(r.path) && ["POST", "PATCH"].includes(r.method) && r.status === 200);
    expect(writes.length).toBeGreaterThanOrEqual(4);
    for (const w of writes) expect((w.body as { allowed_mentions?: unknown }).allowed_mentions).toEqual({ parse: [] });

    const audit = await world.testum.sql`select actor, actor_name, action, outcome, target, channel from audit where action = 'job.request' and detail->>'job' = ${String(id)}`;
    expect(audit).toEqual([
      {
        actor: world.adminIdentity,
        actorName: "Alice (ops)",
        action: "job.request",
        outcome: "accepted",
        target: "prod-db",
        channel: `discord:${world.discord.guildId}:${world.discord.channelId}`,
      },
    ]);
  });

  it("reports a non-zero exit as a failure with its code", async () => {
    const { job, task, parentText, live } = await runAndWait("prod-db", "echo partial; exit 3");
    expect(job.status).toBe("failed");
    expect(task.exitCode).toBe(3);
    expect(parentText).toContain("Failed on prod-db (exit 3)");
    expect(parentText).toContain("Exit code: 3");
    expect(live.content).toContain("partial");
  });

  it("refuses an unknown host privately, queues nothing, and audits the refusal", async () => {
    const before = await world.testum.sql`select count(*)::int as n from jobs`;
    const messages = world.discord.messages().length;
    const answer = await world.command(["run"], { target: "no-such-host", command: "uptime" });
    expect(answer.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(answer.text).toContain("no host named no-such-host");
    const after = await world.testum.sql`select count(*)::int as n from jobs`;
    expect(after[0]!.n).toBe(before[0]!.n);
    expect(world.discord.messages().length).toBe(messages);
    const [row] = await world.testum.sql`select outcome, actor from audit where action = 'job.request' and target = 'no-such-host'`;
    expect(row).toEqual({ outcome: "refused", actor: world.adminIdentity });
  });

  it("says the connection was refused when nothing listens on the port", async () => {
    await world.addHost("closed-port", world.ssh.hosts[0]!, { port: await freePort() });
    const { job, task, parentText } = await runAndWait("closed-port", "uptime");
    expect(job.status).toBe("failed");
    expect(task.errorCode).toBe("ssh_connect_failed");
    expect(parentText).toContain("could not connect");
    expect(parentText).toContain("connection refused");
  });

  it("refuses a member who is not an admin, privately, and audits it", async () => {
    const answer = await world.command(["run"], { target: "prod-db", command: "id" }, stranger);
    expect(answer.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(answer.text).toMatch(/Not allowed: you need operator/);
    const identity = `discord:${world.discord.guildId}:${stranger.id}`;
    expect(answer.text).toContain(identity);
    const rows = await world.testum.sql`select outcome, action, actor_name from audit where actor = ${identity}`;
    expect(rows).toEqual([{ outcome: "refused", action: "job.request", actorName: "mallory" }]);
    expect(await world.testum.sql`select id from jobs where requested_by = ${identity}`).toHaveLength(0);
  });

  it("refuses a command sent in a direct message, privately", async () => {
    const before = world.discord.requests().length;
    const dm = commandInteraction({
      applicationId: world.discord.applicationId,
      channelId: snowflake(),
      user: { id: world.admin.id, username: world.admin.username },
      subcommand: "run",
      options: { target: "prod-db", command: "touch /tmp/from-a-dm" },
    });
    const answer = await world.send(dm);
    expect(answer.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(answer.text).toContain("testum works in server channels, not in direct messages");
    expect(await world.testum.sql`select id from jobs where command like '%from-a-dm%'`).toHaveLength(0);
    expect(world.discord.requests().length).toBe(before);
  });

  it("answers a forged signature, a stale timestamp or a tampered body with 401 and queues nothing", async () => {
    const before = world.discord.requests().length;
    const payload = commandInteraction({ ...world.base(), subcommand: "run", options: { target: "prod-db", command: "touch /tmp/forged" } });
    const raw = JSON.stringify(payload);
    const forged = await postSignedDiscord(world.endpoint, raw, world.keys.privateKey, { signatureOverride: "00".repeat(64) });
    expect(forged.status).toBe(401);
    const stale = await postSignedDiscord(world.endpoint, raw, world.keys.privateKey, { timestampSec: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    const future = await postSignedDiscord(world.endpoint, raw, world.keys.privateKey, { timestampSec: Math.floor(Date.now() / 1000) + 600 });
    expect(future.status).toBe(401);
    const other = (await import("./helpers/discord-sign.js")).createDiscordKeys();
    const wrongKey = await postSignedDiscord(world.endpoint, raw, other.privateKey);
    expect(wrongKey.status).toBe(401);
    const unsigned = await fetch(world.endpoint, { method: "POST", headers: { "content-type": "application/json" }, body: raw });
    expect(unsigned.status).toBe(401);
    expect(await world.testum.sql`select id from jobs where command like '%forged%'`).toHaveLength(0);
    expect(world.discord.requests().length).toBe(before);
    // The same body, correctly signed, is accepted: the refusals above were the signature's doing.
    const good = await world.send(commandInteraction({ ...world.base(), subcommand: "help" }));
    expect(good.status).toBe(200);
  });

  it("answers PING with PONG", async () => {
    const answer = await world.send(pingInteraction({ applicationId: world.discord.applicationId }));
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ type: 1 });
  });

  it("offers host names while the target is typed, to admins only", async () => {
    const typing = (member: Member) => autocompleteInteraction({ ...world.base(member), subcommand: "run", focused: "target", options: { target: "pro" } });
    const admin = await world.send(typing(world.admin));
    expect(admin.json).toEqual({ type: 8, data: { choices: [{ name: "prod-db", value: "prod-db" }] } });
    const other = await world.send(typing(stranger));
    expect(other.json).toEqual({ type: 8, data: { choices: [] } });
  });

  it("shows output with @everyone and user mentions without pinging anyone", async () => {
    const { live, parent } = await runAndWait("web-1", 'echo "@everyone <@123456789012345678> @here done"');
    expect(live.content).toContain("@everyone <@123456789012345678> @here done");
    expect(world.discord.pings()).toEqual([]);
    expect(live.mentions).toEqual([]);
    expect(live.mention_everyone).toBe(false);
    // The command text is shown in the parent as text, never as a mention.
    const shown = parent.embeds[0]!.fields!.find((f) => f.name === "Command")!.value;
    expect(shown).toBe('echo "@\u200beveryone \\<@123456789012345678> @\u200bhere done"');
  });

  it("shows the tail of 50,000 lines in chat while the log keeps every line", async () => {
    const { job, live, parent } = await runAndWait("web-1", "seq 1 50000");
    expect(job.status).toBe("succeeded");
    expect(live.content.length).toBeLessThanOrEqual(2000);
    // The worker keeps the last 200 lines; all of them fit.
    expect(live.content).toContain("\n49801\n49802\n");
    expect(live.content).toMatch(/^```\n… [\d,]+ earlier lines in the full log\n/);
    expect(live.content.endsWith("\n49999\n50000\n```")).toBe(true);
    expect(messageText(live)).toContain("50,000 lines");
    const body = await (await fetch(logLink(parent)!)).text();
    const lines = body.trimEnd().split("\n");
    expect(lines).toHaveLength(50_000);
    expect(lines[0]).toBe("1");
    expect(lines[49_999]).toBe("50000");
  });

  it("still shows the final status through a storm of 429s on edits", async () => {
    const limited = world.discord.rateLimitedCount();
    world.discord.failNext({ method: "PATCH", pathPattern: /^\/channels\/\d+\/messages\/\d+$/ }, { status: 429, retryAfter: 1 }, 4);
    const { job, parentText, live } = await runAndWait("web-1", "for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done");
    expect(job.status).toBe("succeeded");
    expect(parentText).toContain("Succeeded on web-1");
    expect(live.content).toContain("line 1\nline 2\nline 3\nline 4\nline 5");
    expect(world.discord.rateLimitedCount() - limited).toBe(4);
  });

  it("reopens a thread archived mid-job and still shows the final output", async () => {
    const answer = await world.command(["run"], { target: "web-1", command: "for i in $(seq 1 8); do echo step $i; sleep 0.5; done" });
    const id = jobIdFrom(answer.text);
    const running = await eventually("the job's thread", async () => (await world.job(id)).thread);
    const threadId = running.split(":")[2]!;
    await world.discord.waitFor(() => world.discord.messages(threadId)[0]?.content.includes("step 1"), 15_000);
    await moderator.channels.edit(threadId, { archived: true });
    expect(world.discord.channel(threadId)).toMatchObject({ thread_metadata: { archived: true } });

    const job = await world.finished(id);
    expect(job.status).toBe("succeeded");
    const live = await eventually("the final output", () => {
      const message = world.discord.messages(threadId)[0];
      return message && messageText(message).includes("succeeded on web-1") ? message : undefined;
    });
    expect(live.content).toContain("step 8");
    expect(world.discord.channel(threadId)).toMatchObject({ thread_metadata: { archived: false } });
    const refused = world.discord.requests().filter((r) => r.method === "PATCH" && r.path.startsWith(`/channels/${threadId}/messages/`) && r.status === 400);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    await eventually("the parent's final status", () => messageText(world.discord.message(threadId)).includes("Succeeded on web-1"));
  });
});

describe("forms", () => {
  it("opens a modal for a host's credential and takes the submission privately, never echoing it", async () => {
    const opened = await world.command(["hosts", "secret"], { host: "web-1" });
    expect(opened.body?.type).toBe(9);
    const modal = opened.body!.data as {
      custom_id: string;
      title: string;
      components: Array<{ type: number; components: Array<{ type: number; custom_id: string; style: number }> }>;
    };
    expect(modal.title).toBe("Credential: web-1");
    expect(modal.custom_id.length).toBeLessThanOrEqual(100);
    const inputs = modal.components.map((row) => row.components[0]!);
    expect(inputs.map((i) => [i.type, i.custom_id])).toEqual([
      [4, "password"],
      [4, "private_key"],
      [4, "passphrase"],
    ]);
    expect(inputs[1]!.style).toBe(2);

    const submit = (fields: Record<string, string>) => world.send(modalSubmitInteraction({ ...world.base(), customId: modal.custom_id, fields }));
    const neither = await submit({ password: "", private_key: "", passphrase: "" });
    expect(neither.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(neither.text).toMatch(/either the password or the private key/);

    const key = world.ssh.clientPrivateKey.trim();
    const stored = await submit({ password: "", private_key: key, passphrase: "" });
    expect(stored.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(stored.text).toContain("web-1");
    expect(stored.text).not.toContain(key.split("\n")[1]!);
    const { job } = await runAndWait("web-1", "echo still works");
    expect(job.status).toBe("succeeded");

    const stranger = await world.send(modalSubmitInteraction({ ...world.base({ id: snowflake(), username: "eve" }), customId: modal.custom_id, fields: { password: "hunter2" } }));
    expect(stranger.text).toMatch(/Not allowed: you need admin/);
  });
});

describe("a channel whose message budget is spent", () => {
  it("does not hold up the answer or the job: the job runs at once and its messages follow when Discord allows", async () => {
    world.discord.setRouteLimit("POST /channels/:channel_id/messages", { limit: 1, windowMs: 4000 });
    try {
      await moderator.channels.createMessage(world.discord.channelId, { content: "a busy channel" });
      const answer = await world.command(["run"], { target: "prod-db", command: "echo not held up" });
      expect(answer.ms).toBeLessThan(1000);
      expect(answer.text).toMatch(/queued/);
      const job = await world.finished(jobIdFrom(answer.text), 10_000);
      expect(job.status).toBe("succeeded");
      // The job ended while the channel's budget was still spent: the first post already shows the outcome.
      const parent = await eventually(
        "the parent with the outcome",
        () => world.discord.messages(world.discord.channelId).find((m) => messageText(m).includes(`#${job.id}`) && messageText(m).includes("Succeeded on prod-db")),
        20_000,
      );
      expect(parent).toBeDefined();
      const failedForChat = await world.testum.sql`select id from jobs where status = 'failed' and error like '%rate limited%'`;
      expect(failedForChat).toHaveLength(0);
    } finally {
      world.discord.setRouteLimit("POST /channels/:channel_id/messages", { limit: 5, windowMs: 5000 });
    }
  });
});

describe("jobs started inside a thread", () => {
  it("keep their messages in that thread, since threads do not nest", async () => {
    const starter = await moderator.channels.createMessage(world.discord.channelId, { content: "incident 42" });
    const thread = await moderator.channels.createThread(world.discord.channelId, { name: "incident 42", auto_archive_duration: 1440 }, starter.id);
    const answer = await world.command(["run"], { target: "prod-db", command: "echo in the incident thread" }, world.admin, {
      channelId: thread.id,
      channelType: ChannelType.PublicThread,
    });
    const ended = await world.finished(jobIdFrom(answer.text));
    expect(ended.status).toBe("succeeded");
    // The references are recorded as the messages are delivered.
    const job = await eventually("the job's messages to be posted", async () => {
      const current = await world.job(ended.id);
      return current.thread && current.parentMessage ? current : undefined;
    });
    expect(job.conversation).toBe(`discord:${world.discord.guildId}:${thread.id}`);
    expect(job.thread).toBe(`discord:${world.discord.guildId}:${thread.id}`);
    const [parent, live] = await eventually("the parent's final status", () => {
      const messages = world.discord.messages(thread.id);
      // The live message's last edit may land after the parent's.
      return messages.length === 2 && messageText(messages[0]).includes("Succeeded on prod-db") && messages[1]!.content.includes("in the incident thread") ? messages : undefined;
    });
    expect(live!.content).toContain("in the incident thread");
    expect(parent!.id).toBe(job.parentMessage!.split(":")[3]);
  });
});

describe("the Discord chat adapter", () => {
  let redis: Redis;
  let budget: RateBudget;
  const view = { text: "hello", blocks: [{ type: "text" as const, text: "hello" }] };

  beforeAll(() => {
    redis = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
    budget = createRedisBudget(redis, `testum-test-${randomBytes(4).toString("hex")}:budget:`);
  });

  afterAll(() => {
    redis?.disconnect();
  });

  it("says the bot token was refused on a 401, and then stops calling Discord", async () => {
    const chat = createDiscordChat(createDiscordApi({ botToken: "not-the-token", apiUrl: world.discord.api }), budget);
    const conversation = `discord:${world.discord.guildId}:${world.discord.channelId}`;
    const error = await chat.startThread(conversation, view, "x").then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(TestumError);
    expect(error).toMatchObject({ code: "chat_unavailable", message: expect.stringMatching(/bot token was refused/) });
    // testum itself keeps calling Discord meanwhile (with the right token): only refusals are counted.
    const refusals = () => world.discord.requests().filter((r) => r.status === 401).length;
    const calls = refusals();
    expect(calls).toBeGreaterThanOrEqual(1);
    await expect(chat.post(conversation, view)).rejects.toThrow(/bot token was refused/);
    expect(refusals()).toBe(calls);
  });

  it("posts anew when an archived thread may not be reopened", async () => {
    const chat = createDiscordChat(createDiscordApi({ botToken: world.discord.botToken, apiUrl: world.discord.api }), budget);
    const { thread } = await chat.startThread(`discord:${world.discord.guildId}:${world.discord.channelId}`, view, "reopen test");
    const live = await chat.post(thread, view);
    const threadId = thread.split(":")[2]!;
    await moderator.channels.edit(threadId, { archived: true });
    world.discord.failNext({ method: "PATCH", pathPattern: new RegExp(`^/channels/${threadId}$`) }, { status: 403, code: 50013, message: "Missing Permissions" });

    await chat.edit(live, { text: "final", blocks: [{ type: "text", text: "final status" }] });
    const messages = world.discord.messages(threadId);
    expect(messages.map((m) => messageText(m).trim())).toEqual(["hello", "final status"]);
    expect(world.discord.channel(threadId)).toMatchObject({ thread_metadata: { archived: false } });
  });
});

describe("testum discord register", () => {
  const cli = (args: string[]) =>
    promisify(execFile)(process.execPath, ["bin/testum.js", "discord", "register", ...args], {
      encoding: "utf8",
      env: {
        ...process.env,
        TESTUM_MASTER_KEY: TEST_MASTER_KEY,
        DISCORD_APPLICATION_ID: world.discord.applicationId,
        DISCORD_PUBLIC_KEY: world.keys.publicKeyHex,
        DISCORD_BOT_TOKEN: world.discord.botToken,
        DISCORD_API_URL: world.discord.api,
      },
    });

  it("registers the same /testum command twice without changing it", async () => {
    const first = await cli([]);
    const registered = world.discord.commands();
    expect(first.stdout).toContain("/testum created globally");
    expect(first.stdout).toContain("/testum run TARGET COMMAND [timeout]");
    expect(first.stdout).toContain("/testum hosts list");
    expect(registered).toHaveLength(1);
    const run = registered[0]!.options!.find((o) => o.name === "run") as unknown as { options: Array<Record<string, unknown>> };
    expect(run.options).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "target", type: 3, required: true, autocomplete: true }),
        expect.objectContaining({ name: "command", type: 3, required: true }),
        expect.objectContaining({ name: "timeout", type: 3, required: false }),
      ]),
    );
    const hosts = registered[0]!.options!.find((o) => o.name === "hosts") as unknown as { type: number; options: Array<{ type: number; name: string }> };
    expect(hosts.type).toBe(2);
    expect(hosts.options).toContainEqual(expect.objectContaining({ type: 1, name: "list" }));

    const second = await cli([]);
    expect(second.stdout).toContain("/testum unchanged globally");
    expect(world.discord.commands()).toEqual(registered);

    const guild = await cli(["--guild", world.discord.guildId]);
    expect(guild.stdout).toContain(`/testum created in server ${world.discord.guildId}`);
    expect(world.discord.commands(world.discord.guildId)[0]!.options).toEqual(registered[0]!.options);
  });
});
