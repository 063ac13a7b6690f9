import { Queue, UnrecoverableError, WaitingError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { JobQueue, Logger } from "../../core/ports.js";

export const QUEUE_NAME = "testum-jobs";

/** The payload BullMQ carries: a job id, nothing else (no secrets, no chat tokens). */
export interface QueuedJob {
  readonly jobId: number;
}

/** The queue entry's id: one entry per job, whatever retries the caller makes. */
const entryId = (jobId: number) => `job-${jobId}`;

export function createJobQueue(connection: Redis, prefix = "testum"): JobQueue & { counts(): Promise<Record<string, number>>; close(): Promise<void> } {
  const queue = new Queue<QueuedJob>(QUEUE_NAME, { connection, prefix });
  const enqueue = async (jobId: number) => {
    await queue.add("run", { jobId }, { jobId: entryId(jobId), attempts: 1, removeOnComplete: { age: 3600, count: 1000 }, removeOnFail: { age: 86_400 } });
  };
  return {
    enqueue,
    async ensureQueued(jobId) {
      const entry = await queue.getJob(entryId(jobId));
      if (entry) {
        // Waiting, delayed or taken by a worker: the queue still has it.
        const state = await entry.getState();
        if (state !== "completed" && state !== "failed" && state !== "unknown") return false;
        // Done with, yet the job is still queued (its worker stopped before starting it): an
        // entry with the same id would be ignored, so the old one goes first.
        await entry.remove();
      }
      await enqueue(jobId);
      return true;
    },
    /** Entries by state, for metrics. */
    counts: () => queue.getJobCounts("waiting", "prioritized", "active", "delayed"),
    close: () => queue.close(),
  };
}

export interface ConsumerOptions {
  readonly prefix?: string;
  /** Jobs this process runs at once. */
  readonly concurrency?: number;
  readonly log: Logger;
}

/**
 * Takes jobs off the queue and hands each job id to `handle`. A job is never
 * retried by the queue: a worker that dies mid-command leaves its job to the
 * lost-job reaper. A job `handle` declines without starting it (its process
 * is shutting down) goes back to the queue's waiting list at once, for
 * another worker.
 */
export function startQueueConsumer(connection: Redis, handle: (jobId: number) => Promise<unknown>, options: ConsumerOptions): { pause(): Promise<void>; close(): Promise<void> } {
  const { log } = options;
  const worker = new Worker<QueuedJob>(
    QUEUE_NAME,
    async (job, token) => {
      const jobId = Number(job.data.jobId);
      if (!Number.isSafeInteger(jobId)) throw new UnrecoverableError(`bad job payload: ${JSON.stringify(job.data)}`);
      const result = await handle(jobId);
      if (result !== "declined") return result;
      await job.moveToWait(token);
      // Tells BullMQ the entry was moved, not finished.
      throw new WaitingError();
    },
    {
      connection,
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
    /** Takes no more jobs; the ones running go on. */
    pause: () => worker.pause(true),
    /** Closes without waiting for running jobs (the runner has stopped them). */
    close: () => worker.close(true),
  };
}
