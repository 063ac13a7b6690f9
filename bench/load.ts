// Load benchmark: a burst of `/testum run` commands against testum with the chat platform's
// limits on, to show that chat never holds up a job.
//
//   npm run bench:load -- [--platform slack|discord] [--rate 50] [--seconds 5] [--channels 5] [--split]
//
// It starts the repo's fake Slack (or Discord), which enforces the platform's documented limits
// (Slack: chat.postMessage about 1/s per channel with short bursts, chat.update tier 3; Discord:
// 5 messages per 5 s per channel, 50 requests/s per bot), a local sshd host, S3 and a testum (web
// side and worker in one process, `testum start`; with --split, `testum serve` and `testum worker`
// as two processes, as docker-compose.yml deploys them) with a database and Redis prefix of its own. It sends
// RATE signed commands per second for SECONDS seconds, spread over CHANNELS channels, each
// `run h001 'echo load; sleep 1; echo done'`, and prints:
//   - ack p50 / p99 / max: how long the platform waited for testum's answer to each command;
//   - jobs run and finished, how many failed, and when the last one finished;
//   - 429s the platform answered;
//   - how long after the last job's end the last message reached its final state in chat.
// Needs root (for the sshd host), PostgreSQL and Redis, as the tests do.

import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_TEAM_ID } from "../tests/fakes/slack-api.js";
import { startDiscordWorld } from "../tests/helpers/discord-world.js";
import { postSignedSlack, slashCommandBody } from "../tests/helpers/slack-sign.js";
import { ADMIN, SIGNING_SECRET, startSlackWorld } from "../tests/helpers/slack-world.js";
import type { Sql } from "../src/core/db.js";
import prepareTests from "../tests/helpers/global-setup.js";

const { values } = parseArgs({
  options: {
    platform: { type: "string", default: "slack" },
    rate: { type: "string", default: "50" },
    seconds: { type: "string", default: "5" },
    channels: { type: "string", default: "5" },
    split: { type: "boolean", default: false },
  },
});
const platform = values.platform === "discord" ? "discord" : "slack";
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const channelCount = Number(values.channels);
const child = values.split ? ("split" as const) : true;
const COMMAND = "echo load; sleep 1; echo done";
/** Longest the bench waits for the jobs, then for chat, before it reports what it has. */
const DEADLINE_MS = 15 * 60_000;

const say = (line: string) => process.stderr.write(`${line}\n`);

interface Sent {
  readonly ms: number;
  readonly ok: boolean;
  readonly text: string;
}

interface Target {
  readonly sql: Sql;
  send(channel: number): Promise<Sent>;
  rateLimited(): number;
  stop(): Promise<void>;
}

async function slackTarget(): Promise<Target> {
  const world = await startSlackWorld({ hosts: 1, testum: { child } });
  await world.addHost("h001", world.ssh.hosts[0]!);
  const channels = Array.from({ length: channelCount }, (_, i) => `C${String(i + 100).padStart(10, "0")}`);
  for (const channel of channels) world.slack.addChannel(DEFAULT_TEAM_ID, channel, { name: `load-${channel}` });
  return {
    sql: world.testum.sql,
    async send(i) {
      const channel = channels[i % channels.length]!;
      const body = slashCommandBody({
        text: `run h001 '${COMMAND}'`,
        teamId: DEFAULT_TEAM_ID,
        userId: ADMIN,
        userName: "admin",
        channelId: channel,
        responseUrl: world.slack.newResponseUrl({ channel, userId: ADMIN }),
        triggerId: world.slack.issueTriggerId({ userId: ADMIN }),
      });
      const res = await postSignedSlack(`${world.testum.url}/slack/events`, body, SIGNING_SECRET);
      return { ms: res.ms, ok: res.status === 200 && /queued/.test(res.body), text: res.body };
    },
    rateLimited: () => world.slack.rateLimitedCount(),
    stop: () => world.stop(),
  };
}

async function discordTarget(): Promise<Target> {
  const world = await startDiscordWorld({ hosts: 1, testum: { child } });
  await world.addHost("h001", world.ssh.hosts[0]!);
  const channels = [world.discord.channelId, ...Array.from({ length: channelCount - 1 }, (_, i) => world.discord.createChannel(world.discord.guildId, { name: `load-${i}` }))];
  return {
    sql: world.testum.sql,
    async send(i) {
      const answer = await world.command(["run"], { target: "h001", command: COMMAND }, world.admin, { channelId: channels[i % channels.length]! });
      return { ms: answer.ms, ok: /queued/.test(answer.text), text: answer.text };
    },
    rateLimited: () => world.discord.rateLimitedCount(),
    stop: () => world.stop(),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  // The SSH test user and a migrated template database, as the tests have them.
  const teardown = await prepareTests();
  say(`starting testum against the ${platform} fake (limits on), one sshd host…`);
  const target = platform === "slack" ? await slackTarget() : await discordTarget();
  try {
    // One command first: connections, caches and the SSH pool are warm, as in a running install.
    await target.send(0);
    await sleep(3000);
    const total = Math.round(rate * seconds);
    say(`sending ${total} commands at ${rate}/s over ${channelCount} channels…`);
    const started = performance.now();
    const startedAt = new Date();
    const sends: Array<Promise<Sent>> = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      sends.push(target.send(i));
    }
    const sent = await Promise.all(sends);
    const acks = sent.map((s) => s.ms).sort((a, b) => a - b);
    const refused = sent.filter((s) => !s.ok);
    if (refused.length > 0) say(`${refused.length} commands were not queued, e.g.: ${refused[0]!.text.slice(0, 200)}`);

    const deadline = Date.now() + DEADLINE_MS;
    const { sql } = target;
    let jobs: Array<{ status: string; error: string | null; finishedAt: Date | null }> = [];
    for (;;) {
      jobs = await sql`select status, error, finished_at from jobs where created_at >= ${startedAt}`;
      if (jobs.length >= total && jobs.every((j) => j.finishedAt !== null)) break;
      if (Date.now() > deadline) break;
      await sleep(200);
    }
    const lastEnd = Math.max(...jobs.map((j) => j.finishedAt?.getTime() ?? Number.NaN));
    for (;;) {
      const [{ pending }] = (await sql`
        select count(*)::int as pending from job_messages m join jobs j on j.id = m.job_id
        where j.created_at >= ${startedAt} and m.delivered_version < m.version and not m.given_up`) as unknown as [{ pending: number }];
      if (pending === 0 || Date.now() > deadline) break;
      await sleep(500);
    }
    const [chat] = (await sql`
      select max(m.delivered_at) as last, count(*) filter (where m.given_up)::int as given_up,
             count(*) filter (where m.delivered_version < m.version)::int as behind
      from job_messages m join jobs j on j.id = m.job_id where j.created_at >= ${startedAt}`) as unknown as [{ last: Date | null; givenUp: number; behind: number }];
    const finished = jobs.filter((j) => j.finishedAt !== null);
    const succeeded = jobs.filter((j) => j.status === "succeeded").length;
    const chatFailures = jobs.filter((j) => /rate limited|chat|slack|discord/i.test(j.error ?? "")).length;
    const rows: Array<[string, string]> = [
      ["platform", platform],
      ["testum", values.split ? "testum serve and testum worker, two processes" : "testum start, one process"],
      ["commands", `${total} at ${rate}/s over ${channelCount} channels`],
      ["ack p50 / p99 / max", `${percentile(acks, 50).toFixed(0)} / ${percentile(acks, 99).toFixed(0)} / ${acks[acks.length - 1]!.toFixed(0)} ms`],
      ["commands not queued", String(refused.length)],
      ["jobs finished", `${finished.length} of ${total} (${succeeded} succeeded, ${chatFailures} failed for a chat reason)`],
      ["last job finished", `${((lastEnd - startedAt.getTime()) / 1000).toFixed(1)} s after the first command`],
      ["429s from the platform", String(target.rateLimited())],
      ["messages not final in chat", `${chat.behind} (${chat.givenUp} given up)`],
      ["last final state in chat", chat.last ? `${((chat.last.getTime() - lastEnd) / 1000).toFixed(1)} s after the last job's end` : "never"],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")}\n`);
  } finally {
    await target.stop();
    await teardown();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    say(`bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
