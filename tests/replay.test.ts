import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { commandInteraction, postSignedDiscord } from "./helpers/discord-sign.js";
import { startDiscordWorld, type DiscordWorld } from "./helpers/discord-world.js";
import { postSignedSlack, slashCommandBody } from "./helpers/slack-sign.js";
import { ADMIN, CHANNEL, SIGNING_SECRET, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually, startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";

const jobCount = async (sql: TestumUnderTest["sql"]) => ((await sql`select count(*)::int as n from jobs`) as unknown as [{ n: number }])[0].n;

describe("a signed Slack request sent again", () => {
  let world: SlackWorld;
  let second: TestumUnderTest;

  beforeAll(async () => {
    world = await startSlackWorld({ hosts: 1 });
    await world.addHost("h1", world.ssh.hosts[0]!);
    // A second web process on the same database and Redis, as behind a load balancer.
    second = await startTestumForTest({ databaseUrl: world.testum.env.DATABASE_URL, queuePrefix: world.testum.queuePrefix, work: false, env: { ...world.testum.env, PORT: "0" } });
  });

  afterAll(async () => {
    await second?.stop();
    await world?.stop();
  });

  function body(): string {
    return slashCommandBody({
      text: "run h1 'echo once >> ~/replay-proof'",
      teamId: DEFAULT_TEAM_ID,
      userId: ADMIN,
      channelId: CHANNEL,
      responseUrl: world.slack.newResponseUrl({ channel: CHANNEL, userId: ADMIN }),
      triggerId: world.slack.issueTriggerId({ userId: ADMIN }),
    });
  }

  it("runs once, whichever process gets the copy", async () => {
    const raw = body();
    const ts = Math.floor(Date.now() / 1000);
    const first = await postSignedSlack(`${world.testum.url}/slack/events`, raw, SIGNING_SECRET, { timestampSec: ts });
    expect(first.body).toMatch(/Job #\d+ queued/);
    await eventually("the job to end", async () => (await world.testum.sql`select 1 from jobs where status = 'succeeded'`).length === 1);
    // The very same bytes and signature, to the same process and to another one.
    const again = await postSignedSlack(`${world.testum.url}/slack/events`, raw, SIGNING_SECRET, { timestampSec: ts });
    expect(again.status).toBe(200);
    expect(again.body).toContain("already received once");
    const elsewhere = await postSignedSlack(`${second.url}/slack/events`, raw, SIGNING_SECRET, { timestampSec: ts });
    expect(elsewhere.body).toContain("already received once");
    expect(await jobCount(world.testum.sql)).toBe(1);
    expect((await world.ssh.hosts[0]!.exec("cat ~/replay-proof")).stdout).toBe("once\n");
    const refused = await world.testum.sql`select 1 from audit where action = 'request.replay' and outcome = 'refused'`;
    expect(refused).toHaveLength(2);
  });

  it("refuses a timestamp far in the future, which would keep a captured request valid for longer", async () => {
    const raw = body();
    const ahead = await postSignedSlack(`${world.testum.url}/slack/events`, raw, SIGNING_SECRET, { timestampSec: Math.floor(Date.now() / 1000) + 365 * 86_400 });
    expect(ahead.status).toBe(401);
    expect(ahead.body).toContain("too far in the future");
    // A little clock skew is fine.
    const skewed = await postSignedSlack(`${world.testum.url}/slack/events`, raw, SIGNING_SECRET, { timestampSec: Math.floor(Date.now() / 1000) + 60 });
    expect(skewed.status).toBe(200);
  });
});

describe("a signed Discord interaction sent again", () => {
  let world: DiscordWorld;

  beforeAll(async () => {
    world = await startDiscordWorld({ hosts: 1 });
    await world.addHost("h1", world.ssh.hosts[0]!);
  });

  afterAll(async () => {
    await world?.stop();
  });

  it("runs once", async () => {
    const payload = commandInteraction({ ...world.base(), subcommand: "run", options: { target: "h1", command: "echo once >> ~/dreplay-proof" } });
    const raw = JSON.stringify(payload);
    const ts = Math.floor(Date.now() / 1000);
    const first = await postSignedDiscord(world.endpoint, raw, world.keys.privateKey, { timestampSec: ts });
    expect(first.text).toMatch(/Job #\d+ queued/);
    const again = await postSignedDiscord(world.endpoint, raw, world.keys.privateKey, { timestampSec: ts });
    expect(again.status).toBe(200);
    expect(again.text).toContain("already received once");
    await eventually("the job to end", async () => (await world.testum.sql`select 1 from jobs where status = 'succeeded'`).length === 1);
    expect(await jobCount(world.testum.sql)).toBe(1);
    expect((await world.ssh.hosts[0]!.exec("cat ~/dreplay-proof")).stdout).toBe("once\n");
  });
});
