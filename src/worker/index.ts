import type { Redis } from "ioredis";
import { startQueueConsumer } from "../adapters/redis/queue.js";
import { createJobRunner, type RunnerDeps } from "./run-job.js";

export interface WorkerOptions extends RunnerDeps {
  readonly connection: Redis;
  readonly prefix?: string;
  /** Jobs this process runs at once. */
  readonly concurrency?: number;
}

/** Takes jobs off the queue and runs them (see startQueueConsumer for the queue's rules). */
export function startWorker(options: WorkerOptions): { close(): Promise<void> } {
  const runner = createJobRunner(options);
  const consumer = startQueueConsumer(options.connection, (jobId) => runner.run(jobId), options);
  return {
    async close() {
      await consumer.close();
      await runner.close();
    },
  };
}
