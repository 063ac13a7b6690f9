import { once } from "node:events";
import { recordAudit } from "../core/audit.js";
import type { ChatAdapter, ChatDirectory } from "../core/chat.js";
import type { Sql } from "../core/db.js";
import { isTestumError, SshError, TestumError } from "../core/errors.js";
import { getHostById } from "../core/hosts.js";
import { renderLive, renderParent } from "../core/job-view.js";
import {
  claimJob,
  finishJob,
  finishTask,
  getJob,
  heartbeat,
  listTasks,
  startTask,
  type Job,
  type JobStatus,
  type Task,
  type TaskOutcome,
  type TaskStatus,
} from "../core/jobs.js";
import { LiveMessage } from "../core/live.js";
import type { LogStore, Logger } from "../core/ports.js";
import type { SecretBox } from "../core/secret-box.js";
import { TailBuffer } from "../core/tail.js";
import { createHostConnector } from "./connect-host.js";
import type { SshConnection } from "./ssh.js";

export interface RunnerDeps {
  readonly sql: Sql;
  readonly box: SecretBox;
  readonly chat: ChatDirectory;
  readonly logs: LogStore;
  readonly log: Logger;
  readonly workerName: string;
  readonly publicUrl: string;
  readonly heartbeatMs?: number;
  readonly renderEveryMs?: number;
  readonly sshReadyTimeoutMs?: number;
}

export const HEARTBEAT_MS = 10_000;

/**
 * Runs one job: claims it (a job runs at most once), connects to its host,
 * streams output to the log store and the live message, and reports the
 * outcome in chat and in the audit log.
 */
export function createJobRunner(deps: RunnerDeps) {
  const { sql, log } = deps;

  const connector = createHostConnector({ sql, box: deps.box, readyTimeoutMs: deps.sshReadyTimeoutMs });

  async function runTask(job: Job, task: Task, chat: ChatAdapter): Promise<TaskStatus> {
    await startTask(sql, job.id, task.hostName);
    const live = job.liveMessage ? new LiveMessage(chat, job.liveMessage, { log }) : undefined;
    const tail = new TailBuffer();
    const logKey = `jobs/${job.id}/${task.hostName}.log`;
    const upload = deps.logs.open(logKey);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, job.timeoutMs);
    let dirty = true;
    const liveView = (status: TaskStatus) =>
      renderLive(job, task.hostName, { ...tail.snapshot(), lineCount: tail.lineCount, status, updatedAt: Date.now() }, deps.publicUrl);
    const painter = setInterval(() => {
      if (dirty && live) {
        dirty = false;
        live.update(liveView("running"));
      }
    }, deps.renderEveryMs ?? 250);

    let outcome: TaskOutcome;
    let conn: SshConnection | undefined;
    try {
      const host = task.hostId === null ? undefined : await getHostById(sql, task.hostId);
      if (!host) throw new TestumError("unknown_host", `host ${task.hostName} was removed before the job ran`);
      conn = await connector.connect(host, { channel: job.conversation });
      const sink = (chunk: Buffer) => {
        tail.push(chunk);
        dirty = true;
        return upload.stream.write(chunk);
      };
      const result = await conn.exec(
        job.command,
        { onStdout: sink, onStderr: sink, waitForDrain: () => once(upload.stream, "drain").then(() => undefined) },
        { signal: controller.signal },
      );
      const status: TaskStatus = timedOut ? "timed_out" : result.exitCode === 0 ? "succeeded" : "failed";
      outcome = { status, exitCode: result.exitCode, signal: result.signal };
    } catch (err) {
      outcome = await failureOutcome(job, task, err);
    } finally {
      clearTimeout(timer);
      clearInterval(painter);
      conn?.end();
      upload.stream.end();
    }

    let logProblem: string | undefined;
    const stored = await upload.done.catch((err: Error) => {
      logProblem = `the full log could not be stored (${deps.logs.kind}): ${err.message}`;
      log.error({ err, job: job.id, host: task.hostName }, "log upload failed");
      return undefined;
    });
    const snapshot = tail.snapshot();
    outcome = {
      ...outcome,
      error: [outcome.error, logProblem].filter(Boolean).join("\n") || null,
      logKey: stored ? logKey : null,
      logBytes: stored?.bytes ?? null,
      logLines: tail.lineCount,
      tail: snapshot.lines.slice(-20).join("\n"),
    };
    await finishTask(sql, job.id, task.hostName, outcome);
    await recordAudit(sql, {
      actor: job.requestedBy,
      actorName: job.requestedByName ?? undefined,
      channel: job.conversation,
      action: "job.task",
      target: task.hostName,
      outcome: outcome.status,
      detail: { job: job.id, exitCode: outcome.exitCode ?? null, signal: outcome.signal ?? null, error: outcome.errorCode ?? null },
    });
    if (live) {
      const delivered = await live.finish(liveView(outcome.status));
      if (!delivered) log.warn({ job: job.id }, "final live output could not be shown in chat");
    }
    return outcome.status;
  }

  async function failureOutcome(job: Job, task: Task, err: unknown): Promise<TaskOutcome> {
    if (err instanceof SshError && err.failure === "host_key_mismatch") {
      await recordAudit(sql, {
        actor: "system",
        channel: job.conversation,
        action: "host_key.mismatch",
        target: task.hostName,
        outcome: "refused",
        detail: { expected: err.expectedFingerprint ?? null, presented: err.actualFingerprint ?? null, job: job.id },
      });
    }
    if (isTestumError(err)) return { status: "failed", errorCode: err.code, error: err.message };
    log.error({ err, job: job.id, host: task.hostName }, "task failed unexpectedly");
    return { status: "failed", errorCode: "internal", error: "internal error while running the command; see testum's log" };
  }

  return {
    /** Runs a queued job. Returns its final status, or undefined if it was not queued. */
    async run(jobId: number): Promise<JobStatus | undefined> {
      const job = await claimJob(sql, jobId, deps.workerName);
      if (!job) {
        log.warn({ job: jobId }, "job is not queued any more; not running it again");
        return undefined;
      }
      const beat = setInterval(() => void heartbeat(sql, job.id).catch((err) => log.warn({ err }, "heartbeat failed")), deps.heartbeatMs ?? HEARTBEAT_MS);
      const chat = deps.chat.adapterFor(job.conversation);
      const parent = job.parentMessage ? new LiveMessage(chat, job.parentMessage, { log }) : undefined;
      try {
        await recordAudit(sql, { actor: job.requestedBy, actorName: job.requestedByName ?? undefined, channel: job.conversation, action: "job.start", target: job.target, outcome: "started", detail: { job: job.id, worker: deps.workerName } });
        let tasks = await listTasks(sql, job.id);
        parent?.update(renderParent(job, tasks.map((t) => ({ ...t, status: "running", startedAt: new Date() })), deps.publicUrl));
        const statuses: TaskStatus[] = [];
        for (const task of tasks) statuses.push(await runTask(job, task, chat));
        const status: JobStatus = statuses.every((s) => s === "succeeded")
          ? "succeeded"
          : statuses.includes("timed_out")
            ? "timed_out"
            : "failed";
        const ended = await finishJob(sql, job.id, status);
        const final = await getJob(sql, job.id);
        tasks = await listTasks(sql, job.id);
        await recordAudit(sql, { actor: job.requestedBy, actorName: job.requestedByName ?? undefined, channel: job.conversation, action: "job.end", target: job.target, outcome: final.status, detail: { job: job.id } });
        if (parent) {
          const delivered = await parent.finish(renderParent(final, tasks, deps.publicUrl));
          if (!delivered) log.error({ job: job.id }, "final status could not be posted to chat");
        }
        return ended ? status : final.status;
      } finally {
        clearInterval(beat);
      }
    },
  };
}
