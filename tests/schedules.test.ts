import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../src/core/db.js";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { createTestDatabase } from "./helpers/db.js";
import { ADMIN_IDENTITY, blockText, CHANNEL, startSlackWorld, type SlackWorld, answerText } from "./helpers/slack-world.js";
import { eventually, startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";
import { addTestHost } from "./helpers/hosts.js";

let world: SlackWorld;
let second: TestumUnderTest;
const OPS = "U0OPS000001";

const scheduleId = (reply: string) => Number(/Schedule #(\d+)/.exec(reply)![1]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Top-level messages in the channel that belong to a schedule. */
function reportsOf(id: number): string[] {
  return world.slack
    .messages(CHANNEL)
    .filter((m) => m.threadTs === undefined)
    .map((m) => blockText(m.blocks))
    .filter((t) => t.includes(`(schedule #${id})`) || t.includes(`(#${id})`));
}

beforeAll(async () => {
  const fast = { sweepEveryMs: 500, scheduleSyncMs: 300 };
  world = await startSlackWorld({ hosts: 1, testum: { runOptions: fast } });
  // Rate limits generous enough that a report every second is never held back.
  world.slack.setRateLimit("chat.update", { perMinute: 6000, burst: 200, scope: "team" });
  world.slack.setRateLimit("chat.postMessage", { perMinute: 6000, burst: 200, scope: "channel" });
  await world.addHost("web-1", world.ssh.hosts[0]!);
  await world.slash(`grant <@${OPS}> operator`);
  // A second testum process on the same database and Redis: both run schedulers and workers.
  second = await startTestumForTest({
    databaseUrl: world.testum.env.DATABASE_URL,
    queuePrefix: world.testum.queuePrefix,
    serve: false,
    env: { ...world.testum.env, PORT: "0" },
    runOptions: fast,
  });
}, 120_000);

afterAll(async () => {
  await second?.stop();
  await world?.stop();
});

describe("scheduled reports", () => {
  it("validates cron expressions, naming the bad field, and describes the schedule in words", async () => {
    expect(answerText(await world.slash(`schedule add "61 * * * *" web-1 'uptime'`))).toContain('the minute field "61" is not valid');
    expect(answerText(await world.slash(`schedule add "* * *" web-1 'uptime'`))).toContain("expected 5 or 6 fields");
    expect(answerText(await world.slash(`schedule add "0 8 * * 1-5" web-1 'df -h' --tz Mars/Olympus`))).toContain("is not a time zone");
    const ok = answerText(await world.slash(`schedule add "0 8 * * 1-5" web-1 'df -h' --tz Europe/Berlin --name disk`));
    expect(ok).toMatch(/Schedule #\d+ "disk": every weekday at 08:00 \(Europe\/Berlin\), on web-1\. Next run \d{4}-\d\d-\d\d 0[67]:00 UTC/);
    const show = answerText(await world.slash(`schedule show ${scheduleId(ok)}`));
    expect(show.match(/UTC/g)!.length).toBeGreaterThanOrEqual(5);
    await world.slash(`schedule rm ${scheduleId(ok)}`);
  });

  it("with two processes, each fire runs exactly once and posts one report", async () => {
    const id = scheduleId(answerText(await world.slash(`schedule add "*/2 * * * * *" web-1 'date +%s' --name clock`, OPS)));
    await sleep(9000);
    await world.slash(`schedule pause ${id}`, OPS);
    await sleep(2500);
    // Fires that ran (a fire is skipped while the previous run is still going, or while paused).
    const fires = await world.testum.sql`select fire_at, fired_by, job_id from schedule_fires where schedule_id = ${id} and job_id is not null order by fire_at`;
    expect(fires.length).toBeGreaterThanOrEqual(3);
    expect(new Set(fires.map((f) => f.firedBy)).size).toBeGreaterThanOrEqual(1);
    const jobs = await world.testum.sql`select id, status from jobs where schedule_id = ${id}`;
    expect(jobs).toHaveLength(fires.length);
    // On time: each run's job exists within a moment of its fire time (well before the next fire, 2 s later, even on a loaded machine).
    const late = await world.testum.sql`
      select f.fire_at, j.created_at from schedule_fires f join jobs j on j.id = f.job_id
      where f.schedule_id = ${id} and j.created_at - f.fire_at > interval '1.9 seconds'`;
    expect(late).toEqual([]);
    await eventually(
      "every report to be final",
      async () => (await world.testum.sql`select 1 from jobs where schedule_id = ${id} and status in ('queued', 'running')`).length === 0,
    );
    expect(reportsOf(id)).toHaveLength(fires.length);
    expect(reportsOf(id)[0]).toContain('Scheduled report "clock"');

    // Paused: nothing more.
    const before = fires.length;
    await sleep(4500);
    expect((await world.testum.sql`select count(*)::int as n from schedule_fires where schedule_id = ${id} and job_id is not null`)[0]!.n).toBe(before);
    // Resumed: runs again.
    expect(answerText(await world.slash(`schedule resume ${id}`, OPS))).toContain("Next run");
    await eventually(
      "a run after resume",
      async () => (await world.testum.sql`select count(*)::int as n from schedule_fires where schedule_id = ${id} and job_id is not null`)[0]!.n > before,
      10_000,
    );
    await world.slash(`schedule rm ${id}`, OPS);
  });

  it("--on-change posts the first run and then only when the output changes", async () => {
    await world.ssh.hosts[0]!.exec("echo one > ~/state");
    const id = scheduleId(answerText(await world.slash(`schedule add "* * * * * *" web-1 'cat ~/state' --on-change --name state`, OPS)));
    await eventually("three runs", async () => (await world.testum.sql`select count(*)::int as n from jobs where schedule_id = ${id} and status = 'succeeded'`)[0]!.n >= 3, 15_000);
    await sleep(500);
    expect(reportsOf(id)).toHaveLength(1);
    await world.ssh.hosts[0]!.exec("echo two > ~/state");
    await eventually("a report of the change", () => reportsOf(id).length === 2, 15_000);
    await sleep(2500);
    expect(reportsOf(id)).toHaveLength(2);
    await world.slash(`schedule rm ${id}`, OPS);
  });

  it("says once that a schedule keeps failing, then stays quiet until it recovers", async () => {
    await world.ssh.hosts[0]!.exec("rm -f ~/healthy");
    const id = scheduleId(answerText(await world.slash(`schedule add "* * * * * *" web-1 'test -e ~/healthy' --name health`, OPS)));
    await eventually("the mute notice", () => world.slack.messages(CHANNEL).some((m) => blockText(m.blocks).includes('"health" (#' + id + ") failed 3 times in a row")), 20_000);
    // Reports of the runs before the mute may still be on their way: the delivery loop posts each job's messages on its own.
    await eventually(
      "the reports before the mute delivered",
      async () =>
        (await world.testum.sql`select 1 from job_messages m join jobs j on j.id = m.job_id where j.schedule_id = ${id} and m.delivered_version < m.version and not m.given_up`)
          .length === 0,
      15_000,
    );
    const reportsWhenMuted = reportsOf(id).length;
    await sleep(3000);
    expect((await world.testum.sql`select count(*)::int as n from jobs where schedule_id = ${id}`)[0]!.n).toBeGreaterThan(4);
    expect(reportsOf(id).length).toBe(reportsWhenMuted);
    await world.ssh.hosts[0]!.exec("touch ~/healthy");
    await eventually("the recovery", () => world.slack.messages(CHANNEL).some((m) => blockText(m.blocks).includes(`"health" (#${id}) succeeded again`)), 15_000);
    await world.slash(`schedule rm ${id}`, OPS);
  });

  it("checks the owner's rights at every fire", async () => {
    const id = scheduleId(answerText(await world.slash(`schedule add "* * * * * *" web-1 'echo still here' --name rights`, OPS)));
    await eventually("a run", async () => (await world.testum.sql`select 1 from jobs where schedule_id = ${id}`).length > 0, 10_000);
    await world.slash(`revoke <@${OPS}> operator`);
    await eventually(
      "the refusal in the channel",
      () => world.slack.messages(CHANNEL).some((m) => blockText(m.blocks).includes(`"rights" (#${id}) did not run: you need operator`)),
      10_000,
    );
    try {
      await eventually("the refusal in the audit log", async () => {
        const [refused] = await world.testum
          .sql`select count(*)::int as n from audit where action = 'schedule.fire' and outcome = 'refused' and detail->>'schedule' = ${String(id)}`;
        return refused!.n >= 1;
      });
    } finally {
      await world.slash(`grant <@${OPS}> operator`);
      await world.slash(`schedule rm ${id}`);
    }
  });

  it("asks for approval of a risky schedule once; the approval covers it", async () => {
    const reply = answerText(await world.slash(`schedule add "* * * * * *" web-1 'rm -rf ~/scratch-dir; echo cleaned' --name cleanup`, OPS));
    expect(reply).toContain("needs approval before it runs");
    const id = scheduleId(reply);
    await sleep(2000);
    expect((await world.testum.sql`select count(*)::int as n from schedule_fires where schedule_id = ${id}`)[0]!.n).toBe(0);
    const row = await eventually(
      "the approval request",
      async () => (await world.testum.sql`select approval_message from schedules where id = ${id} and approval_message is not null`)[0],
    );
    await world.click(row!.approvalMessage, `t1:schedule-approve:${id}`, OPS);
    await eventually("the owner's refusal", () => JSON.stringify(world.slack.responses().at(-1)?.body ?? "").includes("you made schedule"));
    await world.click(row!.approvalMessage, `t1:schedule-approve:${id}`);
    await eventually("runs after approval", async () => (await world.testum.sql`select 1 from jobs where schedule_id = ${id} and status = 'succeeded'`).length >= 2, 15_000);
    await world.slash(`schedule rm ${id}`);
  });

  it("notes runs missed while testum was down, and catches up the last one when asked", async () => {
    const id = scheduleId(answerText(await world.slash(`schedule add "*/3 * * * * *" web-1 'echo tick' --name ticker`, OPS)));
    await eventually("a first run", async () => (await world.testum.sql`select 1 from jobs where schedule_id = ${id}`).length > 0, 10_000);
    await world.slash(`schedule pause ${id}`, OPS);
    // Let a fire in flight finish, so it cannot move last_fire_at after the test does.
    await sleep(1500);
    await eventually(
      "no run in flight",
      async () => (await world.testum.sql`select 1 from jobs where schedule_id = ${id} and status in ('queued', 'running')`).length === 0,
      20_000,
    );
    // As if every process had been down for a while.
    await world.testum.sql`update schedules set last_fire_at = now() - interval '20 seconds' where id = ${id}`;
    await world.slash(`schedule resume ${id}`, OPS);
    await eventually("the note of missed runs", () => reportsOf(id).some((t) => /earlier runs were missed while testum was not running/.test(t)), 30_000);
    await world.slash(`schedule rm ${id}`, OPS);

    // Every process down, then one comes back with TESTUM_SCHEDULE_CATCHUP=1: it runs the last fire missed.
    // It has a database of its own, so no other process fires this schedule meanwhile.
    const db = await createTestDatabase();
    const sql = connect(db.url, { max: 2 });
    await addTestHost(sql, world.ssh, "web-1");
    const [row] = await sql`
      insert into schedules (name, cron, timezone, target, command, channel, owner, timeout_ms, last_fire_at, created_at)
      values ('catch-up', '*/3 * * * * *', 'UTC', 'web-1', 'echo caught up', ${`slack:${DEFAULT_TEAM_ID}:${CHANNEL}`}, ${ADMIN_IDENTITY}, 60000,
              now() - interval '20 seconds', now() - interval '1 hour')
      returning id`;
    const startedAt = new Date();
    const catcher = await startTestumForTest({
      databaseUrl: db.url,
      env: { ...world.testum.env, DATABASE_URL: db.url, PORT: "0", TESTUM_SCHEDULE_CATCHUP: "1", TESTUM_REDIS_PREFIX: `${world.testum.queuePrefix}-catcher` },
      serve: false,
      runOptions: { scheduleSyncMs: 300, workerName: "catcher" },
    });
    try {
      const audit = await eventually(
        "a catch-up run",
        async () => {
          const [entry] = await sql`select detail from audit where action = 'schedule.fire' and detail->>'reason' = 'catch-up' and detail->>'schedule' = ${String(row!.id)}`;
          return entry;
        },
        15_000,
      );
      expect(new Date(String(audit.detail.fireAt)).getTime()).toBeLessThan(startedAt.getTime());
    } finally {
      await catcher.stop();
      await sql.end();
      await db.drop();
    }
  });

  it("belongs to whoever made it: others cannot change it", async () => {
    const id = scheduleId(answerText(await world.slash(`schedule add "0 3 * * *" web-1 'uptime' --name mine`, OPS)));
    expect(answerText(await world.slash(`schedule rm ${id}`, "U0OTHER0001"))).toMatch(/Not allowed: schedule #\d+ belongs to/);
    expect(answerText(await world.slash("schedule list", OPS))).toMatch(new RegExp(`#${id}\\s+mine`));
    await world.slash(`schedule rm ${id}`, OPS);
  });
});
