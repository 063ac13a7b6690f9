import { noteInThread, reapJobs } from "./lifecycle.js";
import { refreshJobMessages } from "./messages.js";
import { releaseDeliveriesOf } from "./outbox.js";
import { claimQueueChecks } from "./jobs.js";
import { within } from "../concurrency.js";
import { recordAudit } from "../access/audit.js";
import type { ChatDirectory } from "../chat/chat.js";
import type { Sql } from "../db.js";
import { msg, translator } from "../chat/i18n.js";
import type { Job } from "./jobs.js";
import type { JobQueue, Logger } from "../ports.js";
import { message } from "../chat/replies.js";

export interface ReaperDeps {
  readonly sql: Sql;
  readonly chat: ChatDirectory;
  readonly log: Logger;
  readonly publicUrl: string;
  /** Stops what a lost job's commands left running, and says so in its thread. */
  readonly stopLeftovers?: ((job: Job) => Promise<unknown>) | undefined;
  /** A running job without a heartbeat for this long is lost (default 45 s). */
  readonly staleMs?: number;
  /** Where a queued job whose queue entry is gone is handed again. */
  readonly queue?: JobQueue | undefined;
  /** A job queued for this long has its queue entry checked (default a minute). */
  readonly requeueAfterMs?: number;
  readonly intervalMs?: number;
}

/** Queue entries checked per sweep, at most (the oldest queued jobs first). */
const QUEUE_CHECKS = 100;
/** Longest one queue entry's check may take. */
const QUEUE_CHECK_MS = 5000;

/**
 * Finds jobs whose worker died mid-command and marks them lost: never run
 * again, and said so in their thread; approval requests nobody decided in
 * time, marked expired; and queued jobs whose queue entry is gone, queued
 * again. Every testum process runs one; the database update decides which
 * process reports or checks each job.
 */
export function startReaper(deps: ReaperDeps): { stop(): Promise<void>; sweep(): Promise<number> } {
  const { sql, log } = deps;
  let running = false;
  let current: Promise<unknown> = Promise.resolve();

  async function sweep(): Promise<number> {
    if (running) return 0;
    running = true;
    try {
      const { lost: jobs, expired } = await reapJobs(sql, deps.staleMs ?? 45_000);
      // A worker that stopped sending heartbeats is taken as gone, with its chat deliveries
      // (the delivery loop runs under the same name): the messages it held go out from here.
      const gone = [...new Set(jobs.map((job) => job.worker).filter((w): w is string => w !== null))];
      const released = await releaseDeliveriesOf(sql, gone);
      if (released > 0) log.warn({ workers: gone, messages: released }, "took over the chat messages a lost worker was delivering");
      for (const job of jobs) {
        log.warn({ job: job.id, worker: job.worker }, "job lost: its worker stopped sending heartbeats");
        const t = translator(job.lang);
        await refreshJobMessages(sql, job.id, deps.publicUrl);
        await noteInThread(sql, job.id, "lost", { ...message(t("reaper.lost", { id: job.id, worker: job.worker ?? msg("word.unknown") }), undefined, "warning"), lang: t.lang });
        if (deps.stopLeftovers) await deps.stopLeftovers(job).catch((err: unknown) => log.error({ err, job: job.id }, "could not stop a lost job's commands"));
      }
      // Requests nobody decided in time: the request, the parent and the live message say so, without buttons.
      for (const job of expired) await refreshJobMessages(sql, job.id, deps.publicUrl);
      if (deps.queue) await requeueStranded(deps.queue);
      return jobs.length;
    } finally {
      running = false;
    }
  }

  /**
   * A job still queued after a minute whose queue entry is gone (Redis restarted without its
   * data, a process stopped between writing the job and queueing it, a worker that took it but
   * could not start it) would wait forever: it is handed to the queue again.
   */
  async function requeueStranded(queue: JobQueue): Promise<void> {
    const jobs = await claimQueueChecks(sql, deps.requeueAfterMs ?? 60_000, QUEUE_CHECKS);
    for (const { id, conversation, target, lang } of jobs) {
      const checked = queue.ensureQueued(id).then(
        (requeued) => ({ requeued }),
        (err: unknown) => ({ err }),
      );
      const outcome = await within(checked, QUEUE_CHECK_MS, { err: `the queue did not answer within ${QUEUE_CHECK_MS} ms` });
      if ("err" in outcome) {
        // The queue is unreachable: the other jobs' checks would fail the same way; they are checked again later.
        log.warn({ job: id, err: outcome.err }, "could not check a queued job's queue entry");
        break;
      }
      if (!outcome.requeued) continue;
      log.warn({ job: id }, `job #${id} was queued but no longer in the queue; queued again`);
      await recordAudit(sql, { actor: "system", channel: conversation, action: "job.requeue", target, outcome: "queued", detail: { job: id } });
      // The thread says why the job starts late.
      const t = translator(lang);
      await noteInThread(sql, id, "requeue", { ...message(t("reaper.requeued", { id }), undefined, "warning"), lang: t.lang });
    }
  }

  const timer = setInterval(() => {
    current = sweep().catch((err) => log.error({ err }, "lost-job sweep failed"));
  }, deps.intervalMs ?? 10_000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await current;
    },
    sweep,
  };
}
