import { setMaxListeners } from "node:events";
import { noteAudits, recordAudit, type AuditEntry } from "../core/access/audit.js";
import type { ChatDirectory, View } from "../core/chat/chat.js";
import { mapLimit, Semaphore, within } from "../core/concurrency.js";
import type { Sql } from "../core/db.js";
import { renderReport, renderSummary } from "../core/jobs/fanout.js";
import { afterScheduledJob } from "../core/schedules/scheduler.js";
import { getHostsById, type Host } from "../core/hosts/hosts.js";
import { translator, type Translator } from "../core/chat/i18n.js";
import { renderLive, renderParent } from "../core/chat/job-view.js";
import { claimJob, closeUnstartedTasks, getJob, heartbeat, listTasks, setReportKey, type Job, type JobStatus, type Task, type TaskStatus } from "../core/jobs/jobs.js";
import { endJob } from "../core/jobs/lifecycle.js";
import { TaskRecorder } from "../core/jobs/task-recorder.js";
import { setViews } from "../core/jobs/outbox.js";
import { ProcessRecorder } from "../core/jobs/remote-processes.js";
import { createJobRules } from "../core/jobs/redact.js";
import { patternsForJobs } from "../core/jobs/redaction-patterns.js";
import { LOG_GRACE_MS, settleUpload } from "../core/jobs/log-upload.js";
import type { CancelBus, LogStore, Logger } from "../core/ports.js";
import type { SecretBox } from "../core/hosts/secret-box.js";
import type { TailBuffer } from "../core/jobs/tail.js";
import { createHostConnector } from "../adapters/ssh/connect-host.js";
import { ConnectionPool } from "../adapters/ssh/pool.js";
import { runTask } from "./run-task.js";

export interface RunnerDeps {
  readonly sql: Sql;
  readonly box: SecretBox;
  readonly chat: ChatDirectory;
  readonly logs: LogStore;
  readonly log: Logger;
  readonly workerName: string;
  readonly publicUrl: string;
  readonly cancels?: CancelBus | undefined;
  /** Most hosts this worker runs commands on at once, over all its jobs. */
  readonly hostSlots?: number;
  readonly heartbeatMs?: number;
  /** Shortest interval between two recorded views of a running job's messages (default 1 s). */
  readonly renderEveryMs?: number;
  readonly sshReadyTimeoutMs?: number;
  /** How long an unused SSH connection stays open for the next job. */
  readonly idleConnectionMs?: number;
  /** How long a log may still take to store after its task's deadline. */
  readonly logGraceMs?: number | undefined;
}

export const HEARTBEAT_MS = 10_000;
/** Hosts run at once in one job unless --parallel says otherwise. */
export const DEFAULT_PARALLEL = 50;

interface JobOptions {
  readonly parallel: number;
  readonly batch: number | undefined;
  readonly maxFailures: number | undefined;
}

function optionsOf(job: Job): JobOptions {
  const o = job.options as { parallel?: number; batch?: number; maxFailures?: number };
  return { parallel: o.parallel ?? DEFAULT_PARALLEL, batch: o.batch, maxFailures: o.maxFailures };
}

function chunks<T>(items: readonly T[], size: number | undefined): T[][] {
  if (!size) return [[...items]];
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const FAILED: readonly TaskStatus[] = ["failed", "timed_out", "lost"];

function jobStatus(tasks: readonly Task[], cancelled: boolean): JobStatus {
  if (cancelled) return "cancelled";
  if (tasks.every((t) => t.status === "succeeded")) return "succeeded";
  const bad = tasks.filter((t) => t.status !== "succeeded");
  if (bad.every((t) => t.status === "timed_out")) return "timed_out";
  return "failed";
}

/**
 * Runs jobs: claims each (a job runs at most once), runs its hosts in
 * parallel (in batches, stopping after too many failures, when asked),
 * keeps the parent and live messages current, and writes the report.
 */
export function createJobRunner(deps: RunnerDeps) {
  const { sql, log } = deps;
  const pool = new ConnectionPool(createHostConnector({ sql, box: deps.box, readyTimeoutMs: deps.sshReadyTimeoutMs }), deps.idleConnectionMs);
  const slots = new Semaphore(deps.hostSlots ?? 100);
  const processes = new ProcessRecorder(sql, log);
  const cancellers = new Map<number, AbortController>();
  /** Jobs this runner is running, until each has ended and said so. */
  const active = new Set<Promise<unknown>>();
  /** Set when testum shuts down. */
  let stopping = false;
  const unsubscribe = deps.cancels?.subscribe((jobId) => cancellers.get(jobId)?.abort());

  /**
   * Runs the job; "declined" when this runner is shutting down and did not
   * start it (the queue gives it to another worker).
   */
  function run(jobId: number): Promise<JobStatus | "declined" | undefined> {
    if (stopping) {
      log.warn({ job: jobId }, "shutting down; the job goes back to the queue for another worker");
      return Promise.resolve("declined");
    }
    const running = runJob(jobId);
    active.add(running);
    void running.catch(() => {}).finally(() => active.delete(running));
    return running;
  }

  async function runJob(jobId: number): Promise<JobStatus | undefined> {
    // Its tasks are read alongside the claim (one round trip before the hosts are touched, not two).
    const [claimed, taskRows] = await Promise.all([claimJob(sql, jobId, deps.workerName), listTasks(sql, jobId)]);
    if (!claimed) {
      log.warn({ job: jobId }, "job is not queued any more; not running it again");
      return undefined;
    }
    const job = claimed;
    const who = { job: job.id, requester: job.requestedBy, target: job.target };
    log.info(who, `job #${job.id} started: ${job.requestedBy} on ${job.target}`);
    // Everything this job posts is in the requester's language.
    const t = translator(job.lang);
    const cancel = new AbortController();
    // Every running host listens for the cancel.
    setMaxListeners(0, cancel.signal);
    cancellers.set(job.id, cancel);
    if (job.cancelRequestedAt) cancel.abort();
    const beat = setInterval(() => {
      heartbeat(sql, job.id).then(
        (cancelled) => cancelled && cancel.abort(),
        (err: unknown) => log.warn({ err }, "heartbeat failed"),
      );
    }, deps.heartbeatMs ?? HEARTBEAT_MS);

    const tasks = new Map(taskRows.map((t) => [t.hostName, t]));
    const single = tasks.size === 1;
    let latest: { host: string; tail: TailBuffer } | undefined;
    let dirty = true;
    // Tails of running hosts, saved about once a second for the job page.
    const unsaved = new Map<string, TailBuffer>();
    let lastSave = 0;
    const saveTails = () => {
      if (unsaved.size === 0 || Date.now() - lastSave < 1000) return;
      lastSave = Date.now();
      // One statement for every host with new output, however many are streaming.
      const rows = [...unsaved].map(([host, tail]) => [host, tail.snapshot().lines.slice(-50).join("\n")]);
      unsaved.clear();
      void sql`
        update job_tasks as t set tail = v.tail
        from (values ${sql(rows as never)}) as v (host_name, tail)
        where t.job_id = ${job.id} and t.host_name = v.host_name and t.status = 'running'`.catch((err: unknown) => log.warn({ err }, "could not save the live tails"));
    };
    // The job's messages are rows of desired state (see core/jobs/outbox.ts): written here about
    // once a second, newest wins, and delivered to chat as chat allows. A job never waits for chat.
    let writing: Promise<void> = Promise.resolve();
    let lastWrite = 0;
    const paint = () => {
      const current = [...tasks.values()];
      const snapshot = latest?.tail.snapshot() ?? { lines: [], omitted: 0 };
      const views = {
        parent: renderParent(job, current, deps.publicUrl, t),
        live: renderLive(
          job,
          single ? current[0]!.hostName : t("view.n_hosts", { count: current.length }),
          { ...snapshot, lineCount: latest?.tail.lineCount ?? 0, status: "running", updatedAt: Date.now(), tasks: single ? undefined : current, showing: latest?.host },
          deps.publicUrl,
          t,
        ),
      };
      writing = setViews(sql, job.id, views).catch((err: unknown) => log.warn({ err, job: job.id }, "could not record the job's live view"));
    };
    let painting = false;
    const painter = setInterval(() => {
      if (dirty && !painting && Date.now() - lastWrite >= (deps.renderEveryMs ?? 1000)) {
        dirty = false;
        painting = true;
        lastWrite = Date.now();
        paint();
        void writing.finally(() => (painting = false));
      }
      saveTails();
    }, 100);

    const options = optionsOf(job);
    const recorder = new TaskRecorder(sql, job.id);
    // Each host's outcome is audited; written together at the end, in one statement.
    const taskAudits: AuditEntry[] = [];
    let failures = 0;
    let stopStarting = false;
    try {
      const ids = [...tasks.values()].map((t) => t.hostId).filter((id): id is number => id !== null);
      // The start is recorded before any host is touched, without waiting for the audit chain's turn.
      const [, found, patterns] = await Promise.all([
        noteAudits(sql, [
          {
            actor: job.requestedBy,
            actorName: job.requestedByName ?? undefined,
            channel: job.conversation,
            action: "job.start",
            target: job.target,
            outcome: "started",
            detail: { job: job.id, worker: deps.workerName, hosts: tasks.size },
          },
        ]),
        getHostsById(sql, ids),
        patternsForJobs(sql, log),
      ]);
      // Admin patterns as they are when the job starts; a pattern added meanwhile applies from the next job.
      const redaction = createJobRules(patterns);
      const hosts = new Map<number, Host>(found.map((h) => [h.id, h]));
      const ordered = [...tasks.values()].sort((a, b) => a.hostName.localeCompare(b.hostName));

      for (const batch of chunks(ordered, options.batch)) {
        if (stopStarting || cancel.signal.aborted) break;
        await mapLimit(batch, options.parallel, async (task) => {
          if (stopStarting || cancel.signal.aborted) return;
          const release = await slots.acquire();
          try {
            if (stopStarting || cancel.signal.aborted) return;
            // Recorded while the connection is made: on a busy machine every round trip before
            // the connect delays the host.
            const started = recorder.start(task.hostName);
            // Awaited below, before the outcome is written; handled here too, so a failure meanwhile is not an unhandled rejection.
            started.catch(() => {});
            tasks.set(task.hostName, { ...task, status: "running", startedAt: new Date() });
            dirty = true;
            const controller = new AbortController();
            let timedOut = false;
            const timer = setTimeout(() => {
              timedOut = true;
              controller.abort();
            }, job.timeoutMs);
            const onCancel = () => controller.abort();
            cancel.signal.addEventListener("abort", onCancel);
            const outcome = await runTask(
              { pool, logs: deps.logs, log, logGraceMs: deps.logGraceMs, processes },
              {
                job,
                task,
                host: task.hostId === null ? undefined : hosts.get(task.hostId),
                signal: controller.signal,
                redaction,
                compared: tasks.size > 1 || job.scheduleId !== null,
                onOutput: (tail) => {
                  latest = { host: task.hostName, tail };
                  unsaved.set(task.hostName, tail);
                  dirty = true;
                },
              },
            ).finally(() => {
              clearTimeout(timer);
              cancel.signal.removeEventListener("abort", onCancel);
            });
            const status: TaskStatus = outcome.status === "succeeded" ? "succeeded" : timedOut ? "timed_out" : cancel.signal.aborted ? "cancelled" : outcome.status;
            const { mismatch, ...final } = outcome;
            await started;
            await recorder.finish(task.hostName, { ...final, status });
            if (mismatch) {
              await recordAudit(sql, {
                actor: "system",
                channel: job.conversation,
                action: "host_key.mismatch",
                target: mismatch.host ?? task.hostName,
                outcome: "refused",
                detail: { expected: mismatch.expectedFingerprint ?? null, presented: mismatch.actualFingerprint ?? null, job: job.id },
              });
            }
            taskAudits.push({
              actor: job.requestedBy,
              actorName: job.requestedByName ?? undefined,
              channel: job.conversation,
              action: "job.task",
              target: task.hostName,
              outcome: status,
              detail: { job: job.id, exitCode: outcome.exitCode ?? null, signal: outcome.signal ?? null, error: outcome.errorCode ?? null },
            });
            tasks.set(task.hostName, { ...task, ...final, status, finishedAt: new Date() } as Task);
            dirty = true;
            if (FAILED.includes(status)) {
              failures += 1;
              if (options.maxFailures !== undefined && failures >= options.maxFailures) stopStarting = true;
            }
          } finally {
            release();
          }
        });
      }

      if (cancel.signal.aborted) await closeUnstartedTasks(sql, job.id, "cancelled", t("task.not_started_cancelled"));
      else if (stopStarting) await closeUnstartedTasks(sql, job.id, "skipped", t("task.not_started_failures", { count: failures, max: String(options.maxFailures) }));
      const [, finalTasks] = await Promise.all([noteAudits(sql, taskAudits), listTasks(sql, job.id)]);
      const status = jobStatus(finalTasks, cancel.signal.aborted);
      // Shown below, with the final output. The ended row comes back with the change; it is read
      // again only when the job had already ended some other way (marked lost meanwhile).
      const endedHere = await endJob(sql, job.id, status, { actor: job.requestedBy, actorName: job.requestedByName ?? undefined }, undefined, {
        error: cancel.signal.aborted && stopping ? t("jobs.error.shutdown") : undefined,
        detail: { worker: deps.workerName },
      });
      const ended = endedHere ?? (await getJob(sql, job.id));
      const durationMs = (ended.finishedAt?.getTime() ?? Date.now()) - (ended.startedAt ?? job.createdAt).getTime();
      log.info(
        { ...who, outcome: ended.status, durationMs, hosts: finalTasks.length },
        `job #${job.id} ${ended.status} after ${(durationMs / 1000).toFixed(1)} s: ${job.requestedBy} on ${job.target}`,
      );
      clearInterval(painter);
      // The final state does not wait for the report's upload: a slow or unreachable log store
      // delays only the report (its link says so until it is stored).
      await Promise.all([writeReport(ended, finalTasks, t), writing.then(() => showFinal(ended, finalTasks, latest?.tail, t))]);
      if (ended.scheduleId !== null) {
        await afterScheduledJob(deps, ended).catch((err: unknown) => log.error({ err, job: job.id }, "scheduled report bookkeeping failed"));
      }
      return ended.status;
    } finally {
      clearInterval(beat);
      clearInterval(painter);
      cancellers.delete(job.id);
      // The job's end is recorded: the new connections' shell sessions can start now. On many
      // hosts, starting them earlier delayed that end (and the machine's other work) by seconds.
      pool.prepareShells();
    }
  }

  async function writeReport(job: Job, tasks: readonly Task[], t: Translator): Promise<void> {
    const key = `jobs/${job.id}/report.txt`;
    const upload = deps.logs.open(key);
    upload.stream.end(renderReport(job, tasks, deps.publicUrl, t));
    try {
      await settleUpload(upload, { until: Date.now() + (deps.logGraceMs ?? LOG_GRACE_MS) });
      await setReportKey(sql, job.id, key);
    } catch (err) {
      log.error({ err, job: job.id }, "the job report could not be stored");
    }
  }

  /** Records the final views; chat shows them when it can. */
  async function showFinal(job: Job, tasks: readonly Task[], tail: TailBuffer | undefined, t: Translator): Promise<void> {
    let live: View;
    if (tasks.length === 1) {
      const task = tasks[0]!;
      const snapshot = tail?.snapshot() ?? { lines: [], omitted: 0 };
      live = renderLive(job, task.hostName, { ...snapshot, lineCount: task.logLines ?? 0, status: task.status, updatedAt: Date.now() }, deps.publicUrl, t);
    } else {
      live = renderSummary(job, tasks, deps.publicUrl, t);
    }
    await setViews(sql, job.id, { parent: renderParent(job, tasks, deps.publicUrl, t), live }, true);
  }

  return {
    run,
    /**
     * Stops taking jobs, lets running ones finish for up to `graceMs`, then
     * stops them as a cancel would (TERM, then KILL, on every host) and waits
     * up to `stopMs` more for them to record how they ended.
     */
    async drain(graceMs: number, stopMs = 20_000): Promise<void> {
      stopping = true;
      await within(Promise.allSettled([...active]), graceMs, undefined);
      if (active.size === 0) return;
      log.warn({ jobs: [...cancellers.keys()] }, "shutdown grace period over; stopping the jobs still running");
      for (const controller of cancellers.values()) controller.abort();
      await within(Promise.allSettled([...active]), stopMs, undefined);
      if (active.size > 0) log.error({ jobs: [...cancellers.keys()] }, "jobs did not end in time; the lost-job reaper will mark them");
    },
    async close(): Promise<void> {
      pool.closeAll();
      await within(
        Promise.resolve(unsubscribe).then((u) => u?.()),
        5000,
        undefined,
      );
    },
  };
}
