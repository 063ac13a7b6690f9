import { encodeAction } from "./actions.js";
import type { Block, Tone, View } from "./chat.js";
import { formatDuration } from "./duration.js";
import { compactNames, countsLine, countTasks, progressBar, reportUrl } from "./fanout.js";
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

const ACTIVE: readonly string[] = ["awaiting_approval", "queued", "running"];

export function logUrl(publicUrl: string, job: Pick<Job, "logToken">, host?: string): string {
  return `${publicUrl}/logs/${job.logToken}${host ? `/${encodeURIComponent(host)}` : ""}`;
}

function requester(job: Job): string {
  return job.requestedByName ?? job.requestedBy;
}

/** Job-level states that say more than a task's own state. */
const JOB_LEVEL: readonly TaskStatus[] = ["awaiting_approval", "rejected", "expired", "lost", "cancelled"];

function statusOf(job: Job, task: Task | undefined): TaskStatus {
  return !task || JOB_LEVEL.includes(job.status) ? job.status : task.status;
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

/** One-line headline of a single host's outcome, e.g. "Failed on prod-db (exit 3)". */
export function outcomeLine(job: Job, task: Task | undefined): string {
  const host = task?.hostName ?? job.target;
  switch (statusOf(job, task)) {
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
      return `Cancelled on ${host}${job.cancelledBy ? ` by ${job.cancelledBy}` : ""}`;
    case "lost":
      return `Lost on ${host}: the worker stopped`;
    case "skipped":
      return `Skipped ${host}`;
  }
}

/** Headline of a job on several hosts. */
function fanoutLine(job: Job, tasks: readonly Task[]): string {
  const n = tasks.length;
  const counts = countTasks(tasks);
  switch (job.status) {
    case "awaiting_approval":
      return `Waiting for approval to run on ${n} hosts`;
    case "rejected":
      return `Rejected: not run on ${n} hosts`;
    case "expired":
      return `Not approved in time: not run on ${n} hosts`;
    case "queued":
      return `Queued on ${n} hosts`;
    case "running":
      return `Running on ${n} hosts`;
    case "succeeded":
      return `Succeeded on all ${n} hosts`;
    case "cancelled":
      return `Cancelled on ${n} hosts${job.cancelledBy ? ` by ${job.cancelledBy}` : ""}`;
    case "lost":
      return `Lost: the worker stopped`;
    case "timed_out":
      return `Timed out on ${tasks.filter((t) => t.status === "timed_out").length} of ${n} hosts after ${formatDuration(job.timeoutMs)}`;
    default:
      return `Failed on ${counts.failed} of ${n} hosts${counts.skipped ? ` (${counts.skipped} skipped)` : ""}`;
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
  const single = tasks.length === 1 ? tasks[0] : undefined;
  const status = single ? statusOf(job, single) : job.status;
  const headline = `${STATUS_ICON[status]} ${single ? outcomeLine(job, single) : fanoutLine(job, tasks)}`;
  const fields: Array<{ label: string; value: string }> = [
    { label: job.kind === "script" ? "Script" : "Command", value: truncate(job.kind === "script" ? job.command.split("\n")[0]! : job.command, 500) },
    single ? { label: "Host", value: single.hostName } : { label: `Hosts (${tasks.length})`, value: truncate(`${job.target}: ${compactNames(tasks.map((t) => t.hostName))}`, 500) },
    { label: "Requested by", value: requester(job) },
    { label: "Job", value: `#${job.id}` },
  ];
  if (single?.exitCode !== null && single?.exitCode !== undefined) fields.push({ label: "Exit code", value: String(single.exitCode) });
  const duration = durationOf(job, single, now);
  if (duration && !["queued", "awaiting_approval"].includes(status)) fields.push({ label: "Duration", value: duration });

  const blocks: Block[] = [{ type: "heading", text: headline }];
  const scheduled = job.options as { schedule?: { id: number; name: string }; note?: string };
  if (scheduled.schedule) blocks.push({ type: "context", text: `🕒 Scheduled report "${scheduled.schedule.name}" (schedule #${scheduled.schedule.id})` });
  if (scheduled.note) blocks.push({ type: "text", text: scheduled.note });
  if (!single) blocks.push({ type: "text", text: `${progressBar(countTasks(tasks))}  ${countsLine(countTasks(tasks))}` });
  blocks.push({ type: "fields", fields });
  const problem = single?.error ?? job.error;
  if (problem && status !== "succeeded") blocks.push({ type: "text", text: problem });
  if (!ACTIVE.includes(job.status)) {
    const links = [];
    if (single?.logKey) links.push({ label: "Full log", url: logUrl(publicUrl, job) });
    if (!single && job.startedAt) links.push({ label: "Full report", url: reportUrl(publicUrl, job) });
    if (links.length > 0) blocks.push({ type: "links", links });
  } else {
    blocks.push({ type: "context", text: "Live output in the thread." });
  }
  return { text: `${headline} · ${truncate(job.command.split("\n")[0]!, 80)}`, tone: STATUS_TONE[status], blocks };
}

export interface LiveState {
  readonly lines: readonly string[];
  readonly omitted: number;
  readonly lineCount: number;
  readonly status: TaskStatus;
  readonly updatedAt: number;
  /** On a job with several hosts: every task, and the host whose lines are shown. */
  readonly tasks?: readonly Task[];
  readonly showing?: string | undefined;
}

function cancelButton(job: Job): Block {
  return { type: "actions", buttons: [{ label: "Cancel", action: encodeAction({ kind: "cancel", job: job.id }), style: "danger" }] };
}

/** The live message in the thread: the tail of the output while the job runs. */
export function renderLive(job: Job, host: string, state: LiveState, publicUrl: string): View {
  const blocks: Block[] = [];
  const active = state.status === "running" || state.status === "queued";
  const time = new Date(state.updatedAt).toISOString().slice(11, 19);
  if (state.tasks && state.tasks.length > 1) {
    const counts = countTasks(state.tasks);
    blocks.push({ type: "text", text: `${progressBar(counts)}  ${countsLine(counts)}` });
    const running = state.tasks.filter((t) => t.status === "running").map((t) => t.hostName);
    if (state.showing && state.lines.length > 0) blocks.push({ type: "context", text: `Latest output, from ${state.showing}:` });
    if (state.lines.length > 0) blocks.push({ type: "code", lines: state.lines, omitted: state.omitted });
    blocks.push({ type: "context", text: `${running.length > 0 ? `running on ${compactNames(running)}` : "waiting for hosts"} · updated ${time} UTC` });
    if (active) blocks.push(cancelButton(job));
    return { text: `Job #${job.id}: ${countsLine(counts)}`, tone: "progress", blocks };
  }
  if (state.lines.length > 0) blocks.push({ type: "code", lines: state.lines, omitted: state.omitted });
  else blocks.push({ type: "context", text: active ? "Waiting for output…" : "No output." });
  const lines = `${state.lineCount.toLocaleString("en-US")} line${state.lineCount === 1 ? "" : "s"}`;
  const footer =
    state.status === "running"
      ? `${STATUS_ICON.running} running on ${host} · ${lines} · updated ${time} UTC`
      : `${STATUS_ICON[state.status]} ${state.status.replace("_", " ")} on ${host} · ${lines}`;
  blocks.push({ type: "context", text: footer });
  if (active) blocks.push(cancelButton(job));
  else blocks.push({ type: "links", links: [{ label: "Full log", url: logUrl(publicUrl, job) }] });
  return { text: `Output of job #${job.id} on ${host}`, tone: STATUS_TONE[state.status], blocks };
}
