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

/** A job whose parent and live messages are in `conversation`. */
async function jobIn(conversation: string): Promise<number> {
  const [job] = await sql<{ id: number }[]>`
    insert into jobs (command, target, requested_by, conversation, log_token, timeout_ms)
    values ('uptime', 'db-1', 'test:U1', ${conversation}, ${randomBytes(16).toString("hex")}, 60000) returning id`;
  await addMessages(sql, job!.id, conversation, [
    { slot: "parent", view: view("parent"), title: "uptime" },
    { slot: "live", view: view("live") },
  ]);
  return job!.id;
}

/** A chat platform that takes every message, recording it. */
function recordingAdapter(platform: string, sent: string[]): ChatAdapter {
  let n = 0;
  return {
    platform,
    minEditIntervalMs: 0,
    async startThread(conversation, v) {
      sent.push(`${conversation} ${v.text}`);
      const ref = `${conversation}:${++n}`;
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
      log: createLogger("debug", { destination: { write: (line: string) => void logLines.push(line) } }),
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
      expect(sent).toEqual(["discord:G1:C1 parent", "discord:G1:C1:1 live"]);
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
