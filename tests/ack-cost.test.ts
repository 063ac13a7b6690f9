import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "./helpers/db.js";
import { startDiscordWorld, type DiscordWorld } from "./helpers/discord-world.js";
import { jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { initialMessages } from "../src/core/jobs/messages.js";
import type { StartOptions } from "./helpers/testum.js";
import { startPostgresCounter, startRedisCounter, type WireCall, type WireCounter } from "./helpers/wire-count.js";

/**
 * What one accepted `/testum run` costs before its answer: every SQL
 * statement and Redis command testum sends between the request arriving and
 * the answer leaving, counted on the wire (proxies in front of PostgreSQL
 * and Redis), so the figure is exact whatever the machine's load. The chat
 * delivery loop (its own pool, `testum-delivery`) and the worker (off here)
 * are not part of the answer. A change that adds a round trip to the answer
 * path fails here: say why in README's bench:load section and update the
 * figures.
 */

/** The answer path, as it is now (README, bench:load). */
const SLACK_RUN = { sql: 5, redis: 2, chain: 6 };
const DISCORD_RUN = { sql: 5, redis: 2, chain: 6 };

let pg: WireCounter;
let redis: WireCounter;
const dbs: Array<{ drop(): Promise<void> }> = [];

async function counted(): Promise<StartOptions> {
  const db = await createTestDatabase();
  dbs.push(db);
  const url = new URL(db.url);
  url.port = String(pg.port);
  return {
    databaseUrl: url.toString(),
    work: false,
    env: { REDIS_URL: `redis://127.0.0.1:${redis.port}` },
    // Nothing else on the main pool while a command is measured.
    runOptions: { sweepEveryMs: 3_600_000, scheduleSyncMs: 3_600_000 },
  };
}

interface Cost {
  /** Statements sent before the answer arrived (the audit chain's own transaction aside). */
  readonly sql: string[];
  readonly redis: string[];
  /** The audit chain's transaction that each request starts once its own has committed, not waited for. */
  readonly chain: string[];
}

const AUDIT_LOCK = "pg_advisory_xact_lock(hashtext('testum:audit'))";

const fromDelivery = (c: WireCall) => c.app === "testum-delivery" || c.text.includes(":budget:");

/** Waits until testum has sent nothing but chat delivery to either service for `ms` (at most 5 s). */
async function quiet(ms = 400): Promise<void> {
  const deadline = performance.now() + 5000;
  for (;;) {
    const last = Math.max(...[...pg.calls, ...redis.calls].filter((c) => !fromDelivery(c)).map((c) => c.at), 0);
    const left = Math.min(last + ms - performance.now(), deadline - performance.now());
    if (left <= 0) return;
    await new Promise((r) => setTimeout(r, left));
  }
}

/**
 * What testum sent while `send` waited for its answer, on its own pool and
 * Redis connections: not the delivery loop (its pool, `testum-delivery`, and
 * its rate budget's keys), and the audit chain's transaction apart.
 */
async function during(send: () => Promise<unknown>): Promise<Cost> {
  await quiet();
  const from = { pg: pg.calls.length, redis: redis.calls.length };
  const started = performance.now();
  await send();
  const ended = performance.now();
  await quiet();
  // Each connection's calls, split into transactions (begin … commit); the chain's takes its lock first.
  const chain = new Set<WireCall>();
  const open = new Map<number, WireCall[]>();
  for (const call of pg.calls.slice(from.pg)) {
    if (call.text === "begin") open.set(call.connection, []);
    const tx = open.get(call.connection);
    if (!tx) continue;
    tx.push(call);
    if (call.text === "commit" || call.text === "rollback") {
      if (tx.some((c) => c.text.includes(AUDIT_LOCK))) for (const c of tx) chain.add(c);
      open.delete(call.connection);
    }
  }
  const mine = (c: WireCall) => c.at >= started && c.at <= ended && !fromDelivery(c);
  return {
    sql: pg.calls
      .slice(from.pg)
      .filter((c) => mine(c) && !chain.has(c))
      .map((c) => c.text),
    redis: redis.calls
      .slice(from.redis)
      .filter(mine)
      .map((c) => c.text),
    chain: [...chain].map((c) => c.text),
  };
}

/** What was sent, listed: shown when a count is not the expected one. */
function listing(title: string, cost: Cost): string {
  const list = (items: string[]) => items.map((s) => `    ${s.slice(0, 200)}`).join("\n");
  return `${title}, before the answer:\n  SQL ${cost.sql.length}:\n${list(cost.sql)}\n  Redis ${cost.redis.length}:\n${list(cost.redis)}\n  after it, the audit chain: ${cost.chain.length}:\n${list(cost.chain)}\n`;
}

beforeAll(async () => {
  [pg, redis] = await Promise.all([startPostgresCounter(), startRedisCounter()]);
});

afterAll(async () => {
  await Promise.all(dbs.map((db) => db.drop().catch(() => {})));
  await Promise.all([pg?.close(), redis?.close()]);
});

describe("what a run command costs before its answer", () => {
  let slack: SlackWorld;
  let discord: DiscordWorld;

  afterAll(async () => {
    await Promise.all([slack?.stop(), discord?.stop()]);
  });

  it("Slack: a fixed number of SQL statements and Redis commands", async () => {
    slack = await startSlackWorld({ hosts: 1, testum: await counted() });
    await slack.addHost("h001", slack.ssh.hosts[0]!);
    // The first command warms what later ones reuse (the people lookups' caches, prepared statements).
    await slack.slash("run h001 'true'");
    let answer = "";
    const cost = await during(async () => {
      answer = (await slack.slash("run h001 'echo counted'")).body;
    });
    // The messages were rendered before the job was written: they are what its stored rows render.
    const id = jobIdFrom(answer);
    const [job, tasks] = await Promise.all([slack.job(id), slack.tasks(id)]);
    const stored = await slack.testum.sql<
      { slot: string; view: unknown; inThreadOf: number | null }[]
    >`select slot, view, in_thread_of from job_messages where job_id = ${id} order by id`;
    const expected = initialMessages(job, tasks, slack.testum.env.PUBLIC_URL!);
    expect(stored.map((m) => m.slot)).toEqual(expected.map((m) => m.slot));
    expect(stored[0]!.view).toEqual(JSON.parse(JSON.stringify(expected[0]!.view)));
    expect(stored[1]!.inThreadOf).not.toBeNull();
    expect(tasks.map((t) => [t.hostName, t.status])).toEqual([["h001", "queued"]]);
    const [audit] = await slack.testum.sql<{ n: number }[]>`select count(*)::int as n from audit where action = 'job.request' and detail->>'job' = ${String(id)}`;
    expect(audit!.n).toBe(1);
    expect({ sql: cost.sql.length, redis: cost.redis.length, chain: cost.chain.length }, listing("Slack run", cost)).toEqual(SLACK_RUN);
  });

  it("Discord: the same", async () => {
    discord = await startDiscordWorld({ hosts: 1, testum: await counted() });
    await discord.addHost("h001", discord.ssh.hosts[0]!);
    await discord.command(["run"], { target: "h001", command: "true" });
    const cost = await during(async () => expect((await discord.command(["run"], { target: "h001", command: "echo counted" })).text).toMatch(/queued/));
    expect({ sql: cost.sql.length, redis: cost.redis.length, chain: cost.chain.length }, listing("Discord run", cost)).toEqual(DISCORD_RUN);
  });
});
