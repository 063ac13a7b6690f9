import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_BOT_TOKEN, DEFAULT_TEAM_ID, startFakeSlack, type FakeSlack } from "./fakes/slack-api.js";
import { createTestDatabase } from "./helpers/db.js";
import { postSignedSlack, slashCommandBody } from "./helpers/slack-sign.js";
import { ADMIN_IDENTITY, blockText, CHANNEL, jobIdFrom, SIGNING_SECRET } from "./helpers/slack-world.js";
import { startSshHosts, type SshHostSet } from "./helpers/sshd.js";
import { eventually, startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";
import { connect, type Sql } from "../src/core/db.js";
import { addTestHost } from "./helpers/hosts.js";

/**
 * Slack answering 503 to every call for a while: commands are still answered
 * at once and their jobs run on time; every message reaches its final state
 * once Slack is back, also when the testum process that wrote them was
 * restarted meanwhile (the messages wait in the database), and without each
 * waiting out its own pause between tries.
 */

let slack: FakeSlack;
let ssh: SshHostSet;
let db: { url: string; drop(): Promise<void> };
let sql: Sql;

function start(): Promise<TestumUnderTest> {
  return startTestumForTest({
    databaseUrl: db.url,
    env: { SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_BOT_TOKEN: DEFAULT_BOT_TOKEN, SLACK_API_URL: slack.url, TESTUM_ADMINS: ADMIN_IDENTITY },
  });
}

async function run(testum: TestumUnderTest, command: string): Promise<{ id: number; ms: number }> {
  const body = slashCommandBody({
    text: command,
    teamId: DEFAULT_TEAM_ID,
    userId: ADMIN_IDENTITY.split(":")[2]!,
    userName: "admin",
    channelId: CHANNEL,
    responseUrl: slack.newResponseUrl({ channel: CHANNEL }),
  });
  const res = await postSignedSlack(`${testum.url}/slack/events`, body, SIGNING_SECRET);
  expect(res.status).toBe(200);
  return { id: jobIdFrom(res.body), ms: res.ms };
}

/** The channel's parent messages of these jobs, once each shows its outcome and its thread its final output. */
async function allFinal(ids: readonly number[], timeoutMs: number): Promise<void> {
  await eventually(
    "every job's messages in their final state",
    async () => {
      const jobs = await sql<
        Array<{ id: number; parentMessage: string | null; liveMessage: string | null }>
      >`select id, parent_message, live_message from jobs where id in ${sql(ids)}`;
      return jobs.every((job) => {
        const parent = job.parentMessage && slack.message(CHANNEL, job.parentMessage.split(":")[3]!);
        const live = job.liveMessage && slack.message(CHANNEL, job.liveMessage.split(":")[3]!);
        return parent && live && blockText(parent.blocks).includes("Succeeded on web-1") && blockText(live.blocks).includes("after the outage");
      });
    },
    timeoutMs,
  );
}

beforeAll(async () => {
  [slack, ssh, db] = await Promise.all([startFakeSlack(), startSshHosts(1), createTestDatabase()]);
  sql = connect(db.url, { max: 2 });
});

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await Promise.all([slack?.close(), ssh?.stop()]);
  await db?.drop();
});

describe("Slack answering 503 to everything", () => {
  it("answers commands and runs their jobs on time during the outage; every message is final after it, across a restart", async () => {
    let testum = await start();
    await addTestHost(testum.sql, ssh, "web-1");
    slack.outage({ status: 503 });
    const outageStarted = Date.now();
    const first: Array<{ id: number; ms: number }> = [];
    for (let i = 0; i < 3; i++) first.push(await run(testum, `run web-1 'echo job ${i} after the outage'`));
    for (const sent of first) expect(sent.ms).toBeLessThan(1000);
    // The jobs ran while Slack was down, as soon as they were asked for.
    const ended = await eventually("the jobs to end", async () => {
      const rows = await sql<Array<{ status: string; finishedAt: Date | null }>>`select status, finished_at from jobs where id in ${sql(first.map((f) => f.id))}`;
      return rows.every((r) => r.finishedAt) ? rows : undefined;
    });
    expect(ended.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(Math.max(...ended.map((r) => r.finishedAt!.getTime())) - outageStarted).toBeLessThan(8000);
    expect(slack.messages(CHANNEL)).toHaveLength(0);

    // testum restarts during the outage: what it still had to say waits in the database.
    await testum.stop();
    testum = await start();
    const second = await run(testum, "run web-1 'echo one more after the outage'");
    await eventually("the last job to end", async () => {
      const [row] = await sql<Array<{ status: string }>>`select status from jobs where id = ${second.id}`;
      return row?.status === "succeeded";
    });
    // As after a long outage: the messages that failed wait minutes for their next try, but the
    // oldest, due now. Once it gets through, the others go at once rather than after their pauses.
    // (A message being sent right now is left as it is: the process sending it decides its next
    // try, and a pause written under it would outlast its own rate-limit put-back.)
    await sql`
      update job_messages set due_at = case when id = (select min(id) from job_messages where failures > 0) then now() else now() + interval '10 minutes' end
      where failures > 0 and delivered_version < version and (lease_until is null or lease_until < now())`;
    slack.outage(null);
    try {
      await allFinal([...first.map((f) => f.id), second.id], 45_000);
      // Nothing was posted twice: one parent per job.
      const parents = slack.messages(CHANNEL).filter((m) => !m.threadTs);
      expect(parents).toHaveLength(4);
      const failedForChat = await sql`select id from jobs where status <> 'succeeded'`;
      expect(failedForChat).toHaveLength(0);
    } finally {
      await testum.stop();
    }
  });
});
