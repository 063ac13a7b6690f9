import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grant } from "../src/core/access/access.js";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { snowflake } from "./helpers/discord-sign.js";
import { messageText, startDiscordWorld, type DiscordWorld, type Member } from "./helpers/discord-world.js";
import { blockText, CHANNEL, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";

/**
 * A schedule runs in its owner's name with the rights the owner holds at
 * each fire: their platform groups are read again every time, never taken
 * from when the schedule was made.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const scheduleId = (reply: string) => Number(/Schedule #(\d+)/.exec(reply)![1]);

type Sql = SlackWorld["testum"]["sql"];

async function jobsOf(sql: Sql, id: number): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from jobs where schedule_id = ${id}`;
  return row!.n;
}

async function fires(sql: Sql, id: number, outcome: string): Promise<Array<{ at: Date; detail: Record<string, unknown> }>> {
  return sql<Array<{ at: Date; detail: Record<string, unknown> }>>`
    select at, detail from audit where action = 'schedule.fire' and outcome = ${outcome} and detail->>'schedule' = ${String(id)} order by seq`;
}

describe("a schedule owner's Slack user groups are read again at every fire", () => {
  let world: SlackWorld;
  const CAROL = "U0CAROL0001";
  const DAVE = "U0DAVE00001";
  const ERIN = "U0ERIN00001";
  const text = (res: { json?: Record<string, unknown> | undefined }) => `${String(res.json?.text ?? "")}\n${blockText((res.json?.blocks as Record<string, unknown>[]) ?? [])}`;
  const channelSays = (needle: string) => world.slack.messages(CHANNEL).some((m) => blockText(m.blocks).includes(needle));

  beforeAll(async () => {
    world = await startSlackWorld({ hosts: 1, testum: { runOptions: { sweepEveryMs: 500, scheduleSyncMs: 300 } } });
    world.slack.setRateLimit("chat.update", { perMinute: 6000, burst: 200, scope: "team" });
    world.slack.setRateLimit("chat.postMessage", { perMinute: 6000, burst: 200, scope: "channel" });
    // Operators through the @ops user group only: no binding names them.
    world.slack.addUserGroup(DEFAULT_TEAM_ID, "S0OPS", [CAROL, DAVE, ERIN]);
    await world.addHost("web-1", world.ssh.hosts[0]!);
    expect(text(await world.slash("grant <!subteam^S0OPS|@ops> operator on web-1"))).toContain("group:S0OPS is now operator on web-1");
  }, 120_000);

  afterAll(async () => {
    await world?.stop();
  });

  it("removed from the group: the fires stop, each refused in the audit log and in the channel, and schedule run is refused too", async () => {
    const id = scheduleId(text(await world.slash(`schedule add "* * * * * *" web-1 'echo carol-was-here' --name carol-tick`, CAROL)));
    await eventually("a first run", async () => (await jobsOf(world.testum.sql, id)) > 0, 15_000);

    world.slack.addUserGroup(DEFAULT_TEAM_ID, "S0OPS", [DAVE, ERIN]);
    const [refused] = await eventually(
      "a refused fire",
      async () => {
        const rows = await fires(world.testum.sql, id, "refused");
        return rows.length > 0 ? rows : undefined;
      },
      20_000,
    );
    expect(refused!.detail).toMatchObject({ right: "run" });
    await eventually("the refusal in the channel", () => channelSays(`"carol-tick" (#${id}) did not run: you need operator (the run right)`), 10_000);

    // Said once in the channel while it stays refused, not at every fire.
    await sleep(2000);
    expect(world.slack.messages(CHANNEL).filter((m) => blockText(m.blocks).includes(`"carol-tick" (#${id}) did not run`))).toHaveLength(1);

    // By hand, too: nothing runs on the rights carol had when she made it (paused, so no fire is under way meanwhile).
    await world.slash(`schedule pause ${id}`, CAROL);
    await sleep(1500);
    const before = await jobsOf(world.testum.sql, id);
    expect(text(await world.slash(`schedule run ${id}`, CAROL))).toContain(`Schedule #${id} did not run`);
    await sleep(2500);
    expect(await jobsOf(world.testum.sql, id)).toBe(before);
    const [late] = await world.testum.sql<{ n: number }[]>`select count(*)::int as n from jobs where schedule_id = ${id} and created_at > ${refused!.at}`;
    expect(late!.n).toBe(0);
    const manual = await world.testum.sql`
      select 1 from audit where action = 'schedule.fire' and outcome = 'refused' and detail->>'schedule' = ${String(id)} and detail->>'reason' = 'manual'`;
    expect(manual).toHaveLength(1);

    // Back in the group, the same schedule runs again.
    world.slack.addUserGroup(DEFAULT_TEAM_ID, "S0OPS", [CAROL, DAVE, ERIN]);
    await world.slash(`schedule resume ${id}`, CAROL);
    await eventually("a run again", async () => (await jobsOf(world.testum.sql, id)) > before, 20_000);
    await world.slash(`schedule rm ${id}`, CAROL);
  });

  it("an owner whose account was deactivated: the schedule is paused, with a note in the channel", async () => {
    const id = scheduleId(text(await world.slash(`schedule add "* * * * * *" web-1 'echo dave-was-here' --name dave-tick`, DAVE)));
    await eventually("a first run", async () => (await jobsOf(world.testum.sql, id)) > 0, 15_000);
    world.slack.deactivateUser(DEFAULT_TEAM_ID, DAVE);
    await eventually("the pause", async () => (await world.testum.sql`select 1 from schedules where id = ${id} and paused`).length === 1, 20_000);
    await eventually("the note", () => channelSays(`"dave-tick" (#${id}) is paused: its owner`), 10_000);
    expect(
      world.slack
        .messages(CHANNEL)
        .map((m) => blockText(m.blocks))
        .find((t) => t.includes(`(#${id}) is paused`)),
    ).toContain("deactivated");
    const [paused] = await eventually("the pause in the audit log", async () => {
      const rows = await fires(world.testum.sql, id, "paused_owner_unresolved");
      return rows.length > 0 ? rows : undefined;
    });
    expect(paused!.detail).toMatchObject({ owner: "gone" });
    const before = await jobsOf(world.testum.sql, id);
    await sleep(2000);
    expect(await jobsOf(world.testum.sql, id)).toBe(before);
    // An admin running it by hand gets no run either: the owner is still gone.
    expect(text(await world.slash(`schedule run ${id}`))).toContain(`Schedule #${id} did not run`);
    expect(await jobsOf(world.testum.sql, id)).toBe(before);
    await world.slash(`schedule rm ${id}`);
  });

  it("Slack cannot say now who the owner is: the fire is skipped with one note, never run on the old groups", async () => {
    const id = scheduleId(text(await world.slash(`schedule add "* * * * * *" web-1 'echo erin-was-here' --name erin-tick`, ERIN)));
    await eventually("a first run", async () => (await jobsOf(world.testum.sql, id)) > 0, 15_000);
    world.slack.failNext("users.info", { status: 503 }, 10_000);
    const skipped = await eventually(
      "two skipped fires",
      async () => {
        const rows = await fires(world.testum.sql, id, "owner_unavailable");
        return rows.length >= 2 ? rows : undefined;
      },
      30_000,
    );
    // The note is delivered by the outbox: wait for it, then check it came once.
    const noted = () => world.slack.messages(CHANNEL).filter((m) => blockText(m.blocks).includes(`"erin-tick" (#${id}) did not run: its owner's groups could not be read`));
    await eventually("the note", () => noted().length > 0, 10_000);
    expect(noted()).toHaveLength(1);
    const [late] = await world.testum.sql<{ n: number }[]>`select count(*)::int as n from jobs where schedule_id = ${id} and created_at > ${skipped[0]!.at}`;
    expect(late!.n).toBe(0);
    expect((await world.testum.sql`select paused from schedules where id = ${id}`)[0]!.paused).toBe(false);
    await world.slash(`schedule rm ${id}`);
  });
});

describe("a schedule owner's Discord roles are read again at every run", () => {
  let world: DiscordWorld;
  let opsRole: string;
  let carol: Member;

  beforeAll(async () => {
    world = await startDiscordWorld({ hosts: 1 });
    await world.addHost("web-1", world.ssh.hosts[0]!);
    opsRole = world.discord.createRole(world.discord.guildId, { name: "ops" });
    await grant(world.testum.sql, "test", `discord:${world.discord.guildId}:role:${opsRole}`, "operator", "web-1");
    carol = { id: snowflake(), username: "carol", roles: [opsRole] };
  }, 120_000);

  afterAll(async () => {
    await world?.stop();
  });

  it("without the role the owner cannot run the schedule by hand; once they leave the guild it is paused", async () => {
    const added = await world.command(["schedule", "add"], { cron: "0 3 * * *", target: "web-1", command: "echo carol-sched-proof", name: "nightly" }, carol);
    const id = scheduleId(added.text);
    const ran = await world.command(["schedule", "run"], { schedule: id }, carol);
    expect(ran.text).toMatch(new RegExp(`Schedule #${id} .*runs now as job #\\d+`));
    await world.finished(Number(/job #(\d+)/.exec(ran.text)![1]));
    await eventually("the run's bookkeeping", async () => (await world.testum.sql`select 1 from schedule_fires where schedule_id = ${id} and outcome = 'done'`).length === 1);
    const before = await jobsOf(world.testum.sql, id);

    // The ops role is taken away: what the schedule may do goes with it.
    carol = { ...carol, roles: [] };
    world.discord.addMember(world.discord.guildId, carol.id, { username: carol.username, roles: [] });
    const refused = await world.command(["schedule", "run"], { schedule: id }, carol);
    expect(refused.text).toContain(`Schedule #${id} did not run`);
    expect(await jobsOf(world.testum.sql, id)).toBe(before);
    const [fire] = await fires(world.testum.sql, id, "refused");
    expect(fire!.detail).toMatchObject({ reason: "manual", right: "run" });
    await eventually("the refusal in the channel", () =>
      world.discord.messages(world.discord.channelId).some((m) => messageText(m).includes(`"nightly" (#${id}) did not run`) && messageText(m).includes("operator")),
    );

    // carol leaves the guild: nobody's rights cover the schedule any more.
    world.discord.removeMember(world.discord.guildId, carol.id);
    expect((await world.command(["schedule", "run"], { schedule: id })).text).toContain(`Schedule #${id} did not run`);
    expect((await world.testum.sql`select paused from schedules where id = ${id}`)[0]!.paused).toBe(true);
    await eventually("the note", () =>
      world.discord.messages(world.discord.channelId).some((m) => messageText(m).includes(`"nightly" (#${id}) is paused: its owner`) && messageText(m).includes("Unknown Member")),
    );
    expect(await fires(world.testum.sql, id, "paused_owner_unresolved")).toHaveLength(1);
    expect(await jobsOf(world.testum.sql, id)).toBe(before);
  });
});
