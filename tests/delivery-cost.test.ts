import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase } from "./helpers/db.js";
import { CHANNEL, jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";
import { startPostgresCounter, startRedisCounter, type WireCounter } from "./helpers/wire-count.js";

/**
 * What the chat delivery loop sends while a channel is rate limited, counted
 * on the wire: posts to one conversation go one after another, and once one
 * is told to wait, the others waiting with it are put back in one statement,
 * without asking the shared budget (or the platform) again for each.
 */

let pg: WireCounter;
let redis: WireCounter;
let world: SlackWorld;
const dbs: Array<{ drop(): Promise<void> }> = [];

beforeAll(async () => {
  [pg, redis] = await Promise.all([startPostgresCounter(), startRedisCounter()]);
  const db = await createTestDatabase();
  dbs.push(db);
  const url = new URL(db.url);
  url.port = String(pg.port);
  // No worker: the jobs stay queued, and their first messages are all there is to deliver.
  world = await startSlackWorld({ hosts: 1, testum: { databaseUrl: url.toString(), work: false, env: { REDIS_URL: `redis://127.0.0.1:${redis.port}` } } });
  await world.addHost("h001", world.ssh.hosts[0]!);
}, 120_000);

afterAll(async () => {
  await world?.stop();
  await Promise.all(dbs.map((db) => db.drop().catch(() => {})));
  await Promise.all([pg?.close(), redis?.close()]);
});

it("asks the budget once per claim while a channel must wait, and posts the channel's messages in order", async () => {
  const from = { pg: pg.calls.length, redis: redis.calls.length };
  // More posts to one channel, one right after another, than Slack takes (about one a second, with a
  // short burst). (Commands sent at the same instant have no order of their own: each job's number is
  // taken before its row is written, so a later number may be visible first.)
  const jobs: number[] = [];
  for (let i = 0; i < 12; i++) jobs.push(jobIdFrom((await world.slash(`run h001 'echo ${i}'`)).body));
  const parents = () => world.slack.messages(CHANNEL).filter((m) => m.threadTs === undefined && m.source === "chat.postMessage");
  await eventually("every job's parent message", () => parents().length >= jobs.length, 60_000);

  const claims = pg.calls.slice(from.pg).filter((c) => c.app === "testum-delivery" && c.text.startsWith("with c as")).length;
  const checks = redis.calls.slice(from.redis).filter((c) => c.text.includes(`:budget:slack:`) && c.text.includes(`${CHANNEL}:post`)).length;
  const posted = world.slack.calls().filter((c) => c.method === "chat.postMessage").length;
  // Every check either let a post through or was the one refusal of its claim.
  expect(checks - posted, `${checks} budget checks for ${posted} posts over ${claims} claims`).toBeLessThanOrEqual(claims);
  expect(checks - posted).toBeGreaterThan(0);
  // In the channel, the jobs' messages stand in the order the jobs were asked for.
  const shown = parents().map((m) => Number(/echo (\d+)/.exec(m.text)?.[1]));
  expect(shown).toEqual([...jobs.keys()]);
}, 120_000);
