import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { JobQueue } from "../../core/ports.js";

export const QUEUE_NAME = "testum-jobs";

/** The payload BullMQ carries: a job id, nothing else (no secrets, no chat tokens). */
export interface QueuedJob {
  readonly jobId: number;
}

export function createJobQueue(connection: Redis, prefix = "testum"): JobQueue & { close(): Promise<void> } {
  const queue = new Queue<QueuedJob>(QUEUE_NAME, { connection, prefix });
  return {
    async enqueue(jobId) {
      await queue.add(
        "run",
        { jobId },
        {
          // One queue entry per job, whatever retries the caller makes.
          jobId: `job-${jobId}`,
          attempts: 1,
          removeOnComplete: { age: 3600, count: 1000 },
          removeOnFail: { age: 86_400 },
        },
      );
    },
    close: () => queue.close(),
  };
}
