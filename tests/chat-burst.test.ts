import { afterEach, describe, expect, it } from "vitest";
import type { Sql } from "../src/core/db.js";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { messageText, startDiscordWorld, type DiscordWorld } from "./helpers/discord-world.js";
import { postSignedSlack } from "./helpers/slack-sign.js";
import { adminCommandBody, blockText, jobIdFrom, SIGNING_SECRET, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";

/**
 * A burst of commands over a few channels, against Slack and Discord fakes
 * that enforce the platforms' limits: every command is answered and queued,
 * every job runs and succeeds (none fails for a chat reason), every job's
 * messages reach their final state, and the shared budget keeps the 429s to
 * a handful.
 */

const COMMANDS = 40;
const CHANNELS = 5;

interface Shown {
  readonly parentMessage: string | null;
  readonly liveMessage: string | null;
}

interface Burst {
  readonly sql: Sql;
  /** Sends command `i`; resolves with the answer's text, or "deferred" for an answer the platform was told is coming. */
  send(i: number): Promise<string>;
  /** What chat shows of a job's parent message and its live output now. */
  shown(job: Shown): { parent: string; live: string } | undefined;
  rateLimited(): number;
}

async function burst(target: Burst): Promise<void> {
  const answers = await Promise.all(Array.from({ length: COMMANDS }, (_, i) => target.send(i)));
  // Every command was answered: at once with its job number, or (on a slow machine) deferred, the job queued all the same.
  for (const answer of answers) expect(answer).toMatch(/Job #\d+ queued on web-1|^deferred$/);
  // A deferred answer's job is recorded a moment later.
  const ids = await eventually(
    "every command's job",
    async () => {
      const rows = await target.sql<Array<{ id: number }>>`select id from jobs where command like 'echo burst-%'`;
      return rows.length === COMMANDS ? rows.map((r) => r.id) : undefined;
    },
    60_000,
  );
  for (const answer of answers) if (answer !== "deferred") expect(ids).toContain(jobIdFrom(answer));

  const jobs = await eventually(
    "every job to end",
    async () => {
      const rows = await target.sql<Array<{ id: number; status: string; error: string | null; finishedAt: Date | null }>>`
        select id, status, error, finished_at from jobs where id in ${target.sql(ids)}`;
      return rows.length === COMMANDS && rows.every((r) => r.finishedAt) ? rows : undefined;
    },
    60_000,
  );
  // All ran, none failed, none for a chat reason.
  expect(jobs.filter((j) => j.status !== "succeeded")).toEqual([]);

  await eventually(
    "every job's messages in their final state",
    async () => {
      const rows = await target.sql<Array<Shown & { command: string }>>`
        select command, parent_message, live_message from jobs where id in ${target.sql(ids)}`;
      return rows.every((job) => {
        const shown = target.shown(job);
        const output = /echo (burst-\d+) done/.exec(job.command)![1]!;
        return shown?.parent.includes("Succeeded on web-1") && shown.live.includes(`${output} done`);
      });
    },
    150_000,
  );
  // And the outbox drains: nothing left behind, nothing given up on (a last edit may still be in flight).
  await eventually(
    "the outbox to drain",
    async () => (await target.sql`select id from job_messages where job_id in ${target.sql(ids)} and (delivered_version < version or given_up)`).length === 0,
    30_000,
  );
  expect(await target.sql`select id from job_messages where job_id in ${target.sql(ids)} and given_up`).toEqual([]);
  // Posts wait for the budget rather than run into the platform's limits.
  expect(target.rateLimited()).toBeLessThanOrEqual(3);
}

/** Each command says its own number, so its output can be told from the others'. */
const command = (i: number) => `echo burst-${i} done`;

describe("a burst of commands over a few channels, the platform's limits on", () => {
  let slackWorld: SlackWorld | undefined;
  let discordWorld: DiscordWorld | undefined;
  afterEach(async () => {
    await slackWorld?.stop();
    await discordWorld?.stop();
    slackWorld = discordWorld = undefined;
  });

  it("Slack: all run and succeed, every message ends final, few or no 429s", { timeout: 300_000 }, async () => {
    const world = (slackWorld = await startSlackWorld({ hosts: 1 }));
    await world.addHost("web-1", world.ssh.hosts[0]!);
    const channels = Array.from({ length: CHANNELS }, (_, i) => `C${String(i + 200).padStart(10, "0")}`);
    for (const channel of channels) world.slack.addChannel(DEFAULT_TEAM_ID, channel, { name: `burst-${channel}` });
    await burst({
      sql: world.testum.sql,
      async send(i) {
        const channel = channels[i % CHANNELS]!;
        const body = adminCommandBody(world.slack, `run web-1 '${command(i)}'`, channel);
        const res = await postSignedSlack(`${world.testum.url}/slack/events`, body, SIGNING_SECRET);
        expect(res.status).toBe(200);
        return /Working on it/.test(res.body) ? "deferred" : res.body;
      },
      shown(job) {
        if (!job.parentMessage || !job.liveMessage) return undefined;
        const [, , channel, parentTs] = job.parentMessage.split(":");
        const liveTs = job.liveMessage.split(":")[3]!;
        const parent = world.slack.message(channel!, parentTs!);
        const live = world.slack.message(channel!, liveTs);
        return parent && live ? { parent: blockText(parent.blocks), live: blockText(live.blocks) } : undefined;
      },
      rateLimited: () => world.slack.rateLimitedCount(),
    });
  });

  it("Discord: all run and succeed, every message ends final, few or no 429s", { timeout: 300_000 }, async () => {
    const world = (discordWorld = await startDiscordWorld({ hosts: 1 }));
    await world.addHost("web-1", world.ssh.hosts[0]!);
    const channels = [world.discord.channelId, ...Array.from({ length: CHANNELS - 1 }, (_, i) => world.discord.createChannel(world.discord.guildId, { name: `burst-${i}` }))];
    await burst({
      sql: world.testum.sql,
      async send(i) {
        const answer = await world.command(["run"], { target: "web-1", command: command(i) }, world.admin, { channelId: channels[i % CHANNELS]! });
        expect(answer.status).toBe(200);
        return answer.body?.type === 5 ? "deferred" : answer.text;
      },
      shown(job) {
        if (!job.parentMessage || !job.liveMessage) return undefined;
        const parent = world.discord.message(job.parentMessage.split(":")[3]!);
        const live = world.discord.message(job.liveMessage.split(":")[3]!);
        return parent && live ? { parent: messageText(parent), live: messageText(live) } : undefined;
      },
      rateLimited: () => world.discord.rateLimitedCount(),
    });
  });
});
