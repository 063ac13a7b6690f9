import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChatAdapter, createChatDirectory, type View } from "../src/core/chat/chat.js";
import { connect, type Sql } from "../src/core/db.js";
import { startDelivery } from "../src/core/jobs/delivery.js";
import { addMessages } from "../src/core/jobs/outbox.js";
import { createLogger } from "../src/logger.js";
import { createTestDatabase } from "./helpers/db.js";
import { eventually } from "./helpers/testum.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: Sql;
const logLines: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  sql = connect(db.url, { max: 3 });
});

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await db?.drop();
});

const view = (text: string): View => ({ text, blocks: [{ type: "text", text }] });

/** A job whose parent (and, unless `parentOnly`, live message) is in `conversation`. */
async function jobIn(conversation: string, parentOnly = false): Promise<number> {
  const [job] = await sql<{ id: number }[]>`
    insert into jobs (command, target, requested_by, conversation, log_token, timeout_ms)
    values ('uptime', 'db-1', 'test:U1', ${conversation}, ${randomBytes(16).toString("hex")}, 60000) returning id`;
  await addMessages(sql, job!.id, conversation, [
    { slot: "parent", view: view(parentOnly ? `parent of #${job!.id}` : "parent"), title: "uptime" },
    ...(parentOnly ? [] : [{ slot: "live" as const, view: view("live") }]),
  ]);
  return job!.id;
}

const quietLog = () => createLogger("debug", { destination: { write: (line: string) => void logLines.push(line) } });

/** A chat platform that takes every message, recording it; each post takes `postMs`, or fails with `failWith`. */
function recordingAdapter(platform: string, sent: string[], behaviour: { postMs?: number; failWith?: string } = {}): ChatAdapter {
  let n = 0;
  return {
    platform,
    minEditIntervalMs: 0,
    async startThread(conversation, v) {
      if (behaviour.postMs) await new Promise((r) => setTimeout(r, behaviour.postMs));
      sent.push(`${conversation} ${v.text}`);
      if (behaviour.failWith) throw new Error(behaviour.failWith);
      const ref = `${conversation}:${Math.random().toString(36).slice(2)}:${++n}`;
      return { message: ref, thread: ref };
    },
    async post(thread, v) {
      sent.push(`${thread} ${v.text}`);
      return `${thread}:${++n}`;
    },
    async edit(message, v) {
      sent.push(`edit ${message} ${v.text}`);
    },
  };
}

describe("chat delivery in a process that reaches only some platforms", () => {
  it("delivers its own platforms' messages and leaves the others' untouched for the processes that reach them", async () => {
    const slackJob = await jobIn("slack:T1:C1");
    const discordJob = await jobIn("discord:G1:C1");
    const sent: string[] = [];
    const delivery = startDelivery({
      sql,
      chat: createChatDirectory([recordingAdapter("discord", sent)]),
      log: quietLog(),
      owner: "discord-only",
      pollMs: 50,
      flushMs: 5000,
    });
    let stopMs = 0;
    try {
      // Its own messages go out: the loop runs.
      await eventually("the Discord job's messages to be delivered", async () => {
        const rows = await sql`select 1 from job_messages where job_id = ${discordJob} and delivered_version = version and message is not null`;
        return rows.length === 2;
      });
      expect(sent).toHaveLength(2);
      expect(sent[0]).toBe("discord:G1:C1 parent");
      expect(sent[1]).toMatch(/^discord:G1:C1:\w+:1 live$/);
      // Many polls later, Slack's are as they were written: never taken, never failed, not waiting out a backoff.
      await new Promise((r) => setTimeout(r, 1000));
      const slack = await sql<{ slot: string; leaseOwner: string | null; failures: number; lastError: string | null; late: boolean; message: string | null }[]>`
        select slot, lease_owner, failures, last_error, due_at > now() as late, message from job_messages where job_id = ${slackJob} order by id`;
      expect(slack).toEqual([
        { slot: "parent", leaseOwner: null, failures: 0, lastError: null, late: false, message: null },
        { slot: "live", leaseOwner: null, failures: 0, lastError: null, late: false, message: null },
      ]);
    } finally {
      const stopping = Date.now();
      await delivery.stop();
      stopMs = Date.now() - stopping;
    }
    // Its last pass waits only for its own platforms: Slack's pending messages do not hold up its stop (5 s).
    expect(stopMs).toBeLessThan(4000);
    expect(logLines.filter((l) => l.includes("slack"))).toEqual([]);
  });
});

describe("chat delivery of a channel's posts, one after another", () => {
  it("leases a post again while it waits its turn behind slow ones, so another process never sends it too", async () => {
    const conversation = "discord:G2:C2";
    const jobs: number[] = [];
    for (let i = 0; i < 6; i++) jobs.push(await jobIn(conversation, true));
    const sent: string[] = [];
    // Two processes; each post takes 300 ms, a lease lasts 900 ms: the sixth post waits 1.5 s for its turn.
    const loops = ["first", "second"].map((owner) =>
      startDelivery({ sql, chat: createChatDirectory([recordingAdapter("discord", sent, { postMs: 300 })]), log: quietLog(), owner, pollMs: 50, leaseMs: 900, flushMs: 0 }),
    );
    try {
      await eventually("every post to be delivered", async () => (await sql`select 1 from job_messages where job_id = any(${jobs}) and message is null`).length === 0);
      // Some time for a second sender of the same post to show up.
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await Promise.all(loops.map((l) => l.stop()));
    }
    // Each post sent once (which process sent it, and so the order between the two, may vary).
    expect([...sent].sort()).toEqual(jobs.map((id) => `${conversation} parent of #${id}`).sort());
  }, 30_000);

  it("gives back the posts behind one the platform did not take, instead of trying each", async () => {
    const conversation = "discord:G3:C3";
    const jobs: number[] = [];
    for (let i = 0; i < 5; i++) jobs.push(await jobIn(conversation, true));
    const sent: string[] = [];
    const delivery = startDelivery({
      sql,
      chat: createChatDirectory([recordingAdapter("discord", sent, { failWith: "platform is down" })]),
      log: quietLog(),
      owner: "down",
      pollMs: 50,
      flushMs: 0,
    });
    try {
      const failed = await eventually("the first post to fail", async () => {
        const [row] = await sql<{ failures: number }[]>`select failures from job_messages where job_id = ${jobs[0]!}`;
        return row!.failures === 1;
      });
      expect(failed).toBe(true);
      // The first post waits out its backoff (about a second); the others were not tried meanwhile.
      await new Promise((r) => setTimeout(r, 400));
      expect(sent).toEqual([`${conversation} parent of #${jobs[0]}`]);
      const rest = await sql<{ failures: number; leaseOwner: string | null }[]>`
        select failures, lease_owner from job_messages where job_id = any(${jobs.slice(1)})`;
      expect(rest).toEqual(jobs.slice(1).map(() => ({ failures: 0, leaseOwner: null })));
    } finally {
      await delivery.stop();
    }
  }, 30_000);
});
