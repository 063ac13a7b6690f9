// Load benchmark: a burst of `/testum run` commands against testum with the chat platform's
// limits on, to show that chat never holds up a job.
//
//   npm run bench:load -- [--platform slack|discord] [--rate 50] [--seconds 5] [--channels 5] [--split] [--warm N] [--fleet N] [--skip-chat]
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
//   - how long after the last job's end the last message reached its final state in chat (with
//     --skip-chat it does not wait for chat to catch up, and reports what chat shows by then).
// Before the burst testum has run one command (its connections and caches exist, as in a running
// install). With --warm N it first runs N more at the burst's rate and waits for their jobs to
// end: the worker's SSH pool then holds about as many connections to the host as the burst keeps
// busy, as it would in an install that was busy a minute before. Without it, the burst itself
// opens them (an SSH handshake and a shell session each, whose cost on this machine falls on the
// cores testum runs on, since the host is local).
// With --fleet N the hosts table also holds N more hosts (never contacted: the burst targets
// h001), as in an install that keeps a fleet's inventory.
// Needs root (for the sshd host), PostgreSQL and Redis, as the tests do.

import { Worker } from "node:worker_threads";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_TEAM_ID } from "../tests/fakes/slack-api.js";
import { commandInteraction, signDiscord } from "../tests/helpers/discord-sign.js";
import { messageText, startDiscordWorld } from "../tests/helpers/discord-world.js";
import { postSignedSlack, signSlack } from "../tests/helpers/slack-sign.js";
import { adminCommandBody, SIGNING_SECRET, startSlackWorld } from "../tests/helpers/slack-world.js";
import type { Sql } from "../src/core/db.js";
import prepareTests from "../tests/helpers/global-setup.js";

const { values } = parseArgs({
  options: {
    platform: { type: "string", default: "slack" },
    rate: { type: "string", default: "50" },
    seconds: { type: "string", default: "5" },
    channels: { type: "string", default: "5" },
    split: { type: "boolean", default: false },
    warm: { type: "string", default: "0" },
    fleet: { type: "string", default: "0" },
    "skip-chat": { type: "boolean", default: false },
  },
});
const platform = values.platform === "discord" ? "discord" : "slack";
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const channelCount = Number(values.channels);
const warm = Number(values.warm);
const fleet = Number(values.fleet);
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

/** One command of the burst, signed and ready to post, and how to read its answer. */
interface Prepared {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  read(status: number, text: string): { ok: boolean; text: string };
}

interface Target {
  readonly sql: Sql;
  send(channel: number): Promise<Sent>;
  prepare(channel: number): Prepared;
  rateLimited(): number;
  stop(): Promise<void>;
}

/** testum as `npm start` runs it: its database pools open at start (the tests turn that off). */
const testumEnv = { DATABASE_WARM_CONNECTIONS: "10" };

async function slackTarget(): Promise<Target> {
  const world = await startSlackWorld({ hosts: 1, testum: { child, env: testumEnv } });
  await world.addHost("h001", world.ssh.hosts[0]!);
  const channels = Array.from({ length: channelCount }, (_, i) => `C${String(i + 100).padStart(10, "0")}`);
  for (const channel of channels) world.slack.addChannel(DEFAULT_TEAM_ID, channel, { name: `load-${channel}` });
  const bodyFor = (i: number) => adminCommandBody(world.slack, `run h001 '${COMMAND}'`, channels[i % channels.length]!);
  return {
    sql: world.testum.sql,
    async send(i) {
      const res = await postSignedSlack(`${world.testum.url}/slack/events`, bodyFor(i), SIGNING_SECRET);
      return { ms: res.ms, ok: res.status === 200 && /queued/.test(res.body), text: res.body };
    },
    prepare(i) {
      const body = bodyFor(i);
      return {
        url: `${world.testum.url}/slack/events`,
        headers: { ...signSlack(SIGNING_SECRET, body) },
        body,
        read: (status, text) => ({ ok: status === 200 && /queued/.test(text), text }),
      };
    },
    rateLimited: () => world.slack.rateLimitedCount(),
    stop: () => world.stop(),
  };
}

async function discordTarget(): Promise<Target> {
  const world = await startDiscordWorld({ hosts: 1, testum: { child, env: testumEnv } });
  await world.addHost("h001", world.ssh.hosts[0]!);
  const channels = [world.discord.channelId, ...Array.from({ length: channelCount - 1 }, (_, i) => world.discord.createChannel(world.discord.guildId, { name: `load-${i}` }))];
  return {
    sql: world.testum.sql,
    async send(i) {
      const answer = await world.command(["run"], { target: "h001", command: COMMAND }, world.admin, { channelId: channels[i % channels.length]! });
      return { ms: answer.ms, ok: /queued/.test(answer.text), text: answer.text };
    },
    prepare(i) {
      const body = JSON.stringify(
        commandInteraction({ ...world.base(world.admin), channelId: channels[i % channels.length]!, subcommand: "run", options: { target: "h001", command: COMMAND } }),
      );
      return {
        url: world.endpoint,
        headers: { ...signDiscord(world.keys.privateKey, body) },
        body,
        read(status, text) {
          const answer = status === 200 ? (JSON.parse(text) as { type?: number; data?: { content?: string; embeds?: [] } }) : undefined;
          // A deferred answer (type 5, "thinking…") is followed by the reply; the jobs' count below says whether it was queued.
          if (answer?.type === 5) return { ok: true, text };
          const said = messageText({ content: answer?.data?.content ?? "", embeds: answer?.data?.embeds ?? [] });
          return { ok: /queued/.test(said), text: said || text };
        },
      };
    },
    rateLimited: () => world.discord.rateLimitedCount(),
    stop: () => world.stop(),
  };
}

/**
 * Posts the prepared commands at `rate` per second from a thread of their own and times each
 * answer there: the fakes of the platform and S3, which answer testum, run on this thread, and
 * their work must not count as testum's time to answer.
 */
function postFromThread(prepared: readonly Prepared[], rate: number): Promise<Array<{ ms: number; status: number; text: string }>> {
  const requests = prepared.map(({ url, headers, body }) => ({ url, headers, body }));
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    const { requests, rate } = workerData;
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    (async () => {
      // The thread's HTTP client is loaded and connected before the clock starts.
      await Promise.all(Array.from({ length: 20 }, () => fetch(new URL("/healthz", requests[0].url)).then((r) => r.text())));
      const started = performance.now();
      const sends = [];
      for (let i = 0; i < requests.length; i++) {
        const wait = started + (i * 1000) / rate - performance.now();
        if (wait > 0) await sleep(wait);
        const { url, headers, body } = requests[i];
        const at = performance.now();
        sends.push(fetch(url, { method: "POST", headers, body }).then(
          async (res) => { const text = await res.text(); return { ms: performance.now() - at, status: res.status, text }; },
          (err) => ({ ms: performance.now() - at, status: 0, text: String(err) }),
        ));
      }
      parentPort.postMessage(await Promise.all(sends));
    })();`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { requests, rate } });
    worker.once("message", (answers: Array<{ ms: number; status: number; text: string }>) => {
      resolve(answers);
      void worker.terminate();
    });
    worker.once("error", reject);
  });
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
    if (fleet > 0) {
      say(`adding ${fleet} more hosts to the inventory…`);
      await target.sql`
        insert into hosts (name, address, username, auth_method, tags, created_by)
        select 'fleet-' || lpad(i::text, 5, '0'), '192.0.2.1', 'ops', 'identity', jsonb_build_object('role', 'fleet', 'rack', 'r' || (i % 40)), 'bench'
        from generate_series(1, ${fleet}::int) i`;
    }
    // One command first: connections, caches and the SSH pool are warm, as in a running install.
    await target.send(0);
    if (warm > 0) {
      say(`warming up: ${warm} commands at ${rate}/s, then waiting for their jobs to end…`);
      const warmAt = new Date();
      const warming: Array<Promise<Sent>> = [];
      for (let i = 0; i < warm; i++) {
        warming.push(target.send(i));
        await sleep(1000 / rate);
      }
      await Promise.all(warming);
      const until = Date.now() + 5 * 60_000;
      for (;;) {
        const [{ open }] = (await target.sql`
          select count(*)::int as open from jobs where created_at >= ${warmAt} and finished_at is null`) as unknown as [{ open: number }];
        if (open === 0 || Date.now() > until) break;
        await sleep(200);
      }
    }
    await sleep(3000);
    const total = Math.round(rate * seconds);
    say(`sending ${total} commands at ${rate}/s over ${channelCount} channels…`);
    const prepared = Array.from({ length: total }, (_, i) => target.prepare(i));
    const startedAt = new Date();
    const answers = await postFromThread(prepared, rate);
    const sent: Sent[] = answers.map((a, i) => ({ ms: a.ms, ...prepared[i]!.read(a.status, a.text) }));
    const acks = sent.map((s) => s.ms).sort((a, b) => a - b);
    // How the answers went through the burst: the slowest answer of each half second.
    const halves = Array.from({ length: Math.ceil(seconds * 2) }, (_, h) => Math.max(...sent.slice(Math.floor((h * rate) / 2), Math.floor(((h + 1) * rate) / 2)).map((s) => s.ms)));
    const refused = sent.filter((s) => !s.ok);
    say(`answered: p50 / p99 / max ${[50, 99, 100].map((q) => percentile(acks, q).toFixed(0)).join(" / ")} ms; waiting for the jobs${values["skip-chat"] ? "" : " and for chat"}…`);
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
      if (values["skip-chat"]) break;
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
      [
        "commands",
        `${total} at ${rate}/s over ${channelCount} channels${warm > 0 ? ` (after ${warm} to warm up)` : ""}${fleet > 0 ? `, ${fleet + 1} hosts in the inventory` : ""}`,
      ],
      ["ack p50 / p99 / max", `${percentile(acks, 50).toFixed(0)} / ${percentile(acks, 99).toFixed(0)} / ${acks[acks.length - 1]!.toFixed(0)} ms`],
      ["slowest ack per 0.5 s", halves.map((ms) => ms.toFixed(0)).join(" ")],
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
