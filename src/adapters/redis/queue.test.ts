import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { Logger } from "../../core/ports.js";
import { createJobQueue, startQueueConsumer } from "./queue.js";

const connections: Redis[] = [];
const redis = (maxRetriesPerRequest: number | null = 1) => {
  const connection = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest });
  connections.push(connection);
  return connection;
};

afterAll(() => {
  for (const c of connections) c.disconnect();
});

describe("the queue consumer", () => {
  it("puts a job its handler declines back in the queue at once, for a worker that runs it", async () => {
    const prefix = `testum-queue-test-${randomBytes(4).toString("hex")}`;
    const queue = createJobQueue(redis(), prefix);
    const lines: string[] = [];
    const record = (_obj: object, msg?: string) => void lines.push(msg ?? "");
    const log: Logger = { debug: () => {}, info: record, warn: record, error: record, child: () => log };
    const calls: Array<{ jobId: number; answer: string }> = [];
    let declining = true;
    const consumer = startQueueConsumer(
      redis(null),
      async (jobId) => {
        const answer = declining ? "declined" : "succeeded";
        // The first worker to take it is shutting down; the next one runs it.
        declining = false;
        calls.push({ jobId, answer });
        return answer;
      },
      { prefix, log, concurrency: 1 },
    );
    try {
      await queue.enqueue(41);
      const deadline = Date.now() + 15_000;
      while (calls.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(calls).toEqual([
        { jobId: 41, answer: "declined" },
        { jobId: 41, answer: "succeeded" },
      ]);
      // Handing it back is no failure.
      expect(lines.filter((l) => l.includes("job processing failed"))).toEqual([]);
    } finally {
      await consumer.close();
      await queue.close();
      const keys = await redis().keys(`${prefix}:*`);
      if (keys.length > 0) await redis().del(...keys);
    }
  }, 30_000);
});
