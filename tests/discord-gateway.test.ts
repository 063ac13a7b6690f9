import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandInteraction, componentInteraction, snowflake } from "./helpers/discord-sign.js";
import { jobIdFrom, messageText, startDiscordWorld, type DiscordWorld, type Member } from "./helpers/discord-world.js";
import { eventually, startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";

/**
 * Discord over the Gateway only: testum listens on 127.0.0.1 and has no
 * interactions endpoint; every interaction arrives as INTERACTION_CREATE and
 * is answered at the callback route.
 */
let world: DiscordWorld;
const logLines: string[] = [];
const operator: Member = { id: snowflake(), username: "rita" };

beforeAll(async () => {
  world = await startDiscordWorld({ hosts: 1, transport: "gateway", testum: { logLines, runOptions: { sweepEveryMs: 500, scheduleSyncMs: 300 } } });
  await world.addHost("web-1", world.ssh.hosts[0]!);
  world.discord.addMember(world.discord.guildId, operator.id, { username: operator.username });
  expect((await world.command(["grant"], { subject: `discord:${world.discord.guildId}:${operator.id}`, role: "operator" })).text).toContain("is now operator");
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

/** The callbacks Discord got for one interaction. */
const callbacksFor = (id: string) => world.discord.requests().filter((r) => r.method === "POST" && r.path.startsWith(`/interactions/${id}/`));

async function runs(file: string): Promise<number> {
  const { stdout } = await world.ssh.hosts[0]!.exec(`cat ~/${file} 2>/dev/null | wc -l`);
  return Number(stdout.trim());
}

describe("Discord over the Gateway", () => {
  it("says at start which way Discord reaches testum and why, and serves no interactions endpoint", async () => {
    expect(logLines.some((l) => l.includes("Discord: on, over the Gateway") && l.includes("DISCORD_PUBLIC_KEY is not set"))).toBe(true);
    expect(world.testum.config.HOST).toBe("127.0.0.1");
    const res = await fetch(`${world.testum.url}/discord/interactions`);
    expect(res.status).toBe(404);
    expect(world.discord.gateway.sessions()[0]).toMatchObject({ intents: 0, connected: true });
  });

  it("runs a command with live output, answered privately through the callback within 3 s", async () => {
    await world.ssh.hosts[0]!.exec("rm -f ~/gateway-run-go");
    // The command goes on only once the test has seen its live output, so the live message is edited afterwards whatever the load.
    const answer = await world.command(["run"], { target: "web-1", command: "echo hello; while [ ! -e ~/gateway-run-go ]; do sleep 0.1; done; echo from the gateway" });
    expect(answer.status).toBe(200);
    expect(answer.ms).toBeLessThan(3000);
    expect(answer.body).toMatchObject({ type: 4, data: { flags: 64 } });
    const id = jobIdFrom(answer.text);
    await eventually("the live message showing the first line", async () => {
      const threadId = (await world.job(id)).thread?.split(":")[2];
      return threadId !== undefined && world.discord.messages(threadId)[0]?.content.includes("hello") === true;
    });
    await world.ssh.hosts[0]!.exec("touch ~/gateway-run-go");
    const job = await world.finished(id);
    expect(job.status).toBe("succeeded");
    const threadId = job.thread!.split(":")[2]!;
    const live = await eventually("the final live message", () => {
      const message = world.discord.messages(threadId)[0];
      return message?.content.includes("from the gateway") && /succeeded on/.test(messageText(message)) ? message : undefined;
    });
    expect(live.edits.length).toBeGreaterThanOrEqual(1);
    expect(live.content).toBe("```\nhello\nfrom the gateway\n```");
  });

  it("asks for approval of a risky command; the buttons arrive over the Gateway and it runs once", async () => {
    const asked = await world.command(["run"], { target: "web-1", command: "rm -rf ~/gw-scratch; echo ran >> ~/gw-approved" }, operator);
    expect(asked.text).toContain("needs approval");
    const jobId = jobIdFrom(asked.text);
    const job = await eventually("the request", async () => ((await world.job(jobId)).approvalMessage ? world.job(jobId) : undefined));
    const message = await eventually("the request message", () => world.discord.message(job.approvalMessage!.split(":").at(-1)!));
    const click = (member: Member) => world.send(componentInteraction({ ...world.base(member), channelId: message.channel_id, customId: `t1:approve:${jobId}`, message }));
    expect((await click(operator)).text).toContain("you asked for job");
    const ok = await click(world.admin);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain(`You approved job #${jobId}`);
    expect((await world.finished(jobId)).status).toBe("succeeded");
    expect(await runs("gw-approved")).toBe(1);
  });

  it("adds a schedule whose reports land in the channel", async () => {
    const added = await world.command(["schedule", "add"], { cron: "* * * * * *", target: "web-1", command: "echo tick", name: "gw-tick" });
    const id = Number(/Schedule #(\d+)/.exec(added.text)?.[1]);
    expect(id).toBeGreaterThan(0);
    await eventually("a report", () => world.discord.messages(world.discord.channelId).some((m) => messageText(m).includes('Scheduled report "gw-tick"')), 20_000);
    expect((await world.command(["schedule", "rm"], { schedule: id })).text).toContain(`#${id}`);
  });

  it("loses nothing and runs nothing twice when Discord makes testum reconnect in the middle of a job", async () => {
    const answer = await world.command(["run"], { target: "web-1", command: "for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 0.5; done; echo ran >> ~/gw-long" });
    const jobId = jobIdFrom(answer.text);
    await eventually("the job to run", async () => (await world.job(jobId)).status === "running");
    const session = world.discord.gateway.sessions().at(-1)!.id;

    // RECONNECT: the client resumes; a command sent meanwhile is replayed to it and answered.
    world.discord.gateway.reconnect();
    const during = await world.command(["run"], { target: "web-1", command: "echo ran >> ~/gw-during" });
    expect(during.status).toBe(200);
    expect(during.text).toMatch(/Job #\d+ queued/);

    // A connection lost without a close frame: resumed too. (The answer above may have come over
    // the old connection before the client left it: wait for the resumed one.)
    await world.discord.gateway.waitForSession({ timeoutMs: 20_000 });
    world.discord.gateway.drop();
    const afterDrop = await world.command(["whoami"], {});
    expect(afterDrop.text).toContain("admin");

    const job = await world.finished(jobId, 30_000);
    expect(job.status).toBe("succeeded");
    const [task] = await world.tasks(jobId);
    expect(task!.exitCode).toBe(0);
    const log = await (await fetch(`${world.testum.url}/logs/${job.logToken}`)).text();
    expect(log).toBe(Array.from({ length: 8 }, (_, i) => `line ${i + 1}\n`).join(""));
    await world.finished(jobIdFrom(during.text));
    expect(await runs("gw-long")).toBe(1);
    expect(await runs("gw-during")).toBe(1);
    const gw = world.discord.gateway;
    expect(gw.sessions().at(-1)).toMatchObject({ id: session, connected: true, resumes: 2 });
    expect(gw.counts().resumes).toBe(2);
  });

  it("identifies anew after an INVALID_SESSION that may not resume, and takes commands again", async () => {
    await world.discord.gateway.waitForSession({ timeoutMs: 20_000 });
    const before = world.discord.gateway.counts().identifies;
    const old = world.discord.gateway.sessions().at(-1)!.id;
    world.discord.gateway.invalidate(false);
    await world.discord.gateway.waitForSession({ notId: old, timeoutMs: 20_000 });
    expect(world.discord.gateway.counts().identifies).toBe(before + 1);
    expect((await world.command(["whoami"], {})).text).toContain("admin");
  });

  it("takes an interaction Discord delivers twice only once", async () => {
    const payload = commandInteraction({ ...world.base(), subcommand: "run", options: { target: "web-1", command: "echo ran >> ~/gw-twice" } });
    const first = await world.send(payload);
    const jobId = jobIdFrom(first.text);
    world.discord.deliverInteraction(payload);
    await world.finished(jobId);
    await new Promise((r) => setTimeout(r, 1000));
    expect(callbacksFor(payload.id)).toHaveLength(1);
    expect(await runs("gw-twice")).toBe(1);
    const jobs = await world.testum.sql`select id from jobs where command like '%gw-twice%'`;
    expect(jobs).toHaveLength(1);
  });

  describe("with a second testum process on the Gateway", () => {
    let second: TestumUnderTest;

    beforeAll(async () => {
      const sessions = world.discord.gateway.sessions().filter((s) => s.connected).length;
      second = await startTestumForTest({ databaseUrl: world.testum.env.DATABASE_URL, queuePrefix: world.testum.queuePrefix, env: { ...world.testum.env, PORT: "0" } });
      await eventually("the second session", () => world.discord.gateway.sessions().filter((s) => s.connected).length === sessions + 1);
    }, 60_000);

    afterAll(async () => {
      await second?.stop();
    });

    it("each interaction reaches both and is answered once, by one of them", async () => {
      for (let i = 0; i < 4; i++) {
        const payload = commandInteraction({ ...world.base(), subcommand: "run", options: { target: "web-1", command: `echo ran >> ~/gw-both-${i}` } });
        const answer = await world.send(payload);
        expect(answer.text).toMatch(/Job #\d+ queued/);
        await world.finished(jobIdFrom(answer.text));
        expect(callbacksFor(payload.id)).toHaveLength(1);
        expect(await runs(`gw-both-${i}`)).toBe(1);
      }
    });
  });
});
