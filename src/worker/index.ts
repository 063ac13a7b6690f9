import type { Redis } from "ioredis";
import { startQueueConsumer } from "../adapters/redis/queue.js";
import { within } from "../core/concurrency.js";
import { createJobRunner, type RunnerDeps } from "./run-job.js";

export interface WorkerOptions extends RunnerDeps {
  readonly connection: Redis;
  readonly prefix?: string;
  /** Jobs this process runs at once. */
  readonly concurrency?: number;
}

/** Takes jobs off the queue and runs them (see startQueueConsumer for the queue's rules). */
export function startWorker(options: WorkerOptions): { close(graceMs?: number): Promise<void> } {
  const runner = createJobRunner(options);
  const consumer = startQueueConsumer(options.connection, (jobId) => runner.run(jobId), options);
  return {
    /**
     * Takes no more jobs, gives running ones `graceMs` to finish, then stops
     * them (remote processes included). Every step is bounded, whatever Redis,
     * Postgres or the hosts are doing.
     */
    async close(graceMs = 0) {
      await within(consumer.pause(), 5000, undefined);
      await runner.drain(graceMs);
      await within(consumer.close(), 5000, undefined);
      await runner.close();
    },
  };
}
