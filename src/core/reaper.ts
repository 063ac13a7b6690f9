import { expireApprovals, listDecisions, renderRequest } from "./approvals.js";
import { recordAudit } from "./audit.js";
import type { ChatDirectory } from "./chat.js";
import type { Sql } from "./db.js";
import { msg, translator } from "./i18n.js";
import { renderParent } from "./job-view.js";
import { listTasks, reapLostJobs, type Job } from "./jobs.js";
import type { Logger } from "./ports.js";
import { message } from "./replies.js";

export interface ReaperDeps {
  readonly sql: Sql;
  readonly chat: ChatDirectory;
  readonly log: Logger;
  readonly publicUrl: string;
  /** Stops what a lost job's commands left running, and says so in its thread. */
  readonly stopLeftovers?: ((job: Job) => Promise<unknown>) | undefined;
  /** A running job without a heartbeat for this long is lost (default 45 s). */
  readonly staleMs?: number;
  readonly intervalMs?: number;
}

/**
 * Finds jobs whose worker died mid-command and marks them lost: never run
 * again, and said so in their thread; and approval requests nobody decided
 * in time, marked expired. Every testum process runs one; the database
 * update decides which process reports each job.
 */
export function startReaper(deps: ReaperDeps): { stop(): Promise<void>; sweep(): Promise<number> } {
  const { sql, log } = deps;
  let running = false;
  let current: Promise<unknown> = Promise.resolve();

  async function sweep(): Promise<number> {
    if (running) return 0;
    running = true;
    try {
      const jobs = await reapLostJobs(sql, deps.staleMs ?? 45_000);
      for (const job of jobs) {
        log.warn({ job: job.id, worker: job.worker }, "job lost: its worker stopped sending heartbeats");
        await recordAudit(sql, {
          actor: "system",
          channel: job.conversation,
          action: "job.end",
          target: job.target,
          outcome: "lost",
          detail: { job: job.id, worker: job.worker },
        });
        try {
          const chat = deps.chat.adapterFor(job.conversation);
          const t = translator(job.lang);
          if (job.parentMessage) await chat.edit(job.parentMessage, renderParent(job, await listTasks(sql, job.id), deps.publicUrl, t));
          if (job.thread) {
            await chat.post(job.thread, { ...message(t("reaper.lost", { id: job.id, worker: job.worker ?? msg("word.unknown") }), undefined, "warning"), lang: t.lang });
          }
        } catch (err) {
          log.error({ err, job: job.id }, "could not report a lost job in chat");
        }
        if (deps.stopLeftovers) await deps.stopLeftovers(job).catch((err: unknown) => log.error({ err, job: job.id }, "could not stop a lost job's commands"));
      }
      for (const job of await expireApprovals(sql)) {
        try {
          const chat = deps.chat.adapterFor(job.conversation);
          const tasks = await listTasks(sql, job.id);
          const t = translator(job.lang);
          if (job.approvalMessage) await chat.edit(job.approvalMessage, renderRequest(job, tasks.map((task) => task.hostName), await listDecisions(sql, job.id), t));
          if (job.parentMessage) await chat.edit(job.parentMessage, renderParent(job, tasks, deps.publicUrl, t));
        } catch (err) {
          log.error({ err, job: job.id }, "could not report an expired approval in chat");
        }
      }
      return jobs.length;
    } finally {
      running = false;
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
