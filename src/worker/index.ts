import { UnrecoverableError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { QUEUE_NAME, type QueuedJob } from "../adapters/redis/queue.js";
import type { Logger } from "../core/ports.js";
import { createJobRunner, type RunnerDeps } from "./run-job.js";

export interface WorkerOptions extends RunnerDeps {
  readonly connection: Redis;
  readonly prefix?: string;
  /** Jobs this process runs at once. */
  readonly concurrency?: number;
}

/**
 * Takes jobs off the queue and runs them. A job is never retried by the
 * queue: a worker that dies mid-command leaves its job to the lost-job reaper.
 */
export function startWorker(options: WorkerOptions): { close(): Promise<void> } {
  const runner = createJobRunner(options);
  const log: Logger = options.log;
  const worker = new Worker<QueuedJob>(
    QUEUE_NAME,
    async (job) => {
      const jobId = Number(job.data.jobId);
      if (!Number.isSafeInteger(jobId)) throw new UnrecoverableError(`bad job payload: ${JSON.stringify(job.data)}`);
      return runner.run(jobId);
    },
    {
      connection: options.connection,
      prefix: options.prefix ?? "testum",
      concurrency: options.concurrency ?? 20,
      // A stalled job (its worker died) must not be handed to another worker.
      maxStalledCount: 0,
      lockDuration: 30_000,
    },
  );
  worker.on("failed", (job, err) => log.error({ err, job: job?.data.jobId }, "job processing failed"));
  worker.on("error", (err) => log.error({ err }, "worker error"));
  return {
    async close() {
      await worker.close();
      await runner.close();
    },
  };
}
