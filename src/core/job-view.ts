import type { Block, Tone, View } from "./chat.js";
import { formatDuration } from "./duration.js";
import type { Job, Task, TaskStatus } from "./jobs.js";
import { truncate } from "./tail.js";

/**
 * How a job looks in chat, platform-neutral: the parent message in the
 * channel and the live message in its thread.
 */

const STATUS_ICON: Record<TaskStatus, string> = {
  awaiting_approval: "🔐",
  rejected: "🚫",
  expired: "⌛",
  queued: "⏳",
  running: "▶️",
  succeeded: "✅",
  failed: "❌",
  timed_out: "⏱️",
  cancelled: "🛑",
  lost: "⚠️",
  skipped: "⏭️",
};

const STATUS_TONE: Record<TaskStatus, Tone> = {
  awaiting_approval: "warning",
  rejected: "failure",
  expired: "neutral",
  queued: "neutral",
  running: "progress",
  succeeded: "success",
  failed: "failure",
  timed_out: "failure",
  cancelled: "warning",
  lost: "warning",
  skipped: "neutral",
};

export function logUrl(publicUrl: string, job: Pick<Job, "logToken">, host?: string): string {
  return `${publicUrl}/logs/${job.logToken}${host ? `/${encodeURIComponent(host)}` : ""}`;
}

function requester(job: Job): string {
  return job.requestedByName ?? job.requestedBy;
}

/** Job-level states that say more than a task's own state. */
const JOB_LEVEL: readonly TaskStatus[] = ["awaiting_approval", "rejected", "expired", "lost"];

function statusOf(job: Job, task: Task | undefined): TaskStatus {
  return !task || JOB_LEVEL.includes(job.status) ? job.status : task.status;
}

/** One-line headline of a task's outcome, e.g. "failed on prod-db (exit 3)". */
export function outcomeLine(job: Job, task: Task | undefined): string {
  const host = task?.hostName ?? job.target;
  const status = statusOf(job, task);
  switch (status) {
    case "awaiting_approval":
      return `Waiting for approval to run on ${host}`;
    case "rejected":
      return `Rejected: not run on ${host}`;
    case "expired":
      return `Not approved in time: not run on ${host}`;
    case "queued":
      return `Queued on ${host}`;
    case "running":
      return `Running on ${host}`;
    case "succeeded":
      return `Succeeded on ${host}`;
    case "failed":
      if (task?.errorCode) return `Failed on ${host}: ${errorLabel(task.errorCode)}`;
      if (task?.signal) return `Failed on ${host} (killed by SIG${task.signal})`;
      return `Failed on ${host} (exit ${task?.exitCode ?? "?"})`;
    case "timed_out":
      return `Timed out on ${host} after ${formatDuration(job.timeoutMs)}`;
    case "cancelled":
      return `Cancelled on ${host}`;
    case "lost":
      return `Lost on ${host}: the worker stopped`;
    case "skipped":
      return `Skipped ${host}`;
  }
}

function errorLabel(code: string): string {
  switch (code) {
    case "ssh_connect_failed":
      return "could not connect";
    case "ssh_auth_failed":
      return "authentication refused";
    case "host_key_mismatch":
      return "HOST KEY CHANGED";
    case "unknown_host":
      return "host removed";
    default:
      return "error";
  }
}

function durationOf(job: Job, task: Task | undefined, now: number): string | undefined {
  const start = task?.startedAt ?? job.startedAt;
  if (!start) return undefined;
  const end = task?.finishedAt ?? job.finishedAt;
  return formatDuration((end ? end.getTime() : now) - start.getTime());
}

/** The parent message in the channel. */
export function renderParent(job: Job, tasks: readonly Task[], publicUrl: string, now = Date.now()): View {
  const task = tasks.length === 1 ? tasks[0] : undefined;
  const status = statusOf(job, task);
  const headline = `${STATUS_ICON[status]} ${outcomeLine(job, task)}`;
  const fields: Array<{ label: string; value: string }> = [
    { label: "Command", value: truncate(job.command, 500) },
    { label: "Host", value: task?.hostName ?? job.target },
    { label: "Requested by", value: requester(job) },
    { label: "Job", value: `#${job.id}` },
  ];
  if (task?.exitCode !== null && task?.exitCode !== undefined) fields.push({ label: "Exit code", value: String(task.exitCode) });
  const duration = durationOf(job, task, now);
  if (duration && status !== "queued") fields.push({ label: "Duration", value: duration });

  const blocks: Block[] = [{ type: "heading", text: headline }, { type: "fields", fields }];
  const problem = task?.error ?? job.error;
  if (problem && status !== "succeeded") blocks.push({ type: "text", text: problem });
  const final = !["awaiting_approval", "queued", "running"].includes(job.status);
  if (final && task?.logKey) {
    blocks.push({ type: "links", links: [{ label: "Full log", url: logUrl(publicUrl, job) }] });
  } else if (!final) {
    blocks.push({ type: "context", text: "Live output in the thread." });
  }
  return { text: `${headline} · ${truncate(job.command, 80)}`, tone: STATUS_TONE[status], blocks };
}

export interface LiveState {
  readonly lines: readonly string[];
  readonly omitted: number;
  readonly lineCount: number;
  readonly status: TaskStatus;
  readonly updatedAt: number;
}

/** The live message in the thread: the tail of the output. */
export function renderLive(job: Job, host: string, state: LiveState, publicUrl: string): View {
  const blocks: Block[] = [];
  if (state.lines.length > 0) blocks.push({ type: "code", lines: state.lines, omitted: state.omitted });
  else blocks.push({ type: "context", text: state.status === "running" || state.status === "queued" ? "Waiting for output…" : "No output." });
  const time = new Date(state.updatedAt).toISOString().slice(11, 19);
  const lines = `${state.lineCount.toLocaleString("en-US")} line${state.lineCount === 1 ? "" : "s"}`;
  const footer =
    state.status === "running"
      ? `${STATUS_ICON.running} running on ${host} · ${lines} · updated ${time} UTC`
      : `${STATUS_ICON[state.status]} ${state.status.replace("_", " ")} on ${host} · ${lines}`;
  blocks.push({ type: "context", text: footer });
  if (state.status !== "running" && state.status !== "queued") {
    blocks.push({ type: "links", links: [{ label: "Full log", url: logUrl(publicUrl, job) }] });
  }
  return { text: `Output of job #${job.id} on ${host}`, tone: STATUS_TONE[state.status], blocks };
}
