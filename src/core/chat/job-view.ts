import { encodeAction } from "../commands/actions.js";
import { displayName, type Block, type Tone, type View } from "./chat.js";
import { formatDuration } from "../duration.js";
import { compactNames, countsLine, countTasks, progressBar, reportUrl } from "../jobs/fanout.js";
import { formatCount, msg, translator, type Message, type Translator } from "./i18n.js";
import type { Job, Task, TaskStatus } from "../jobs/jobs.js";
import { truncate } from "../jobs/tail.js";
import { formatClock } from "./time.js";

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

/** The job's page: status, results, live output and the full logs. */
export function jobPageUrl(publicUrl: string, job: Pick<Job, "id" | "logToken">): string {
  return `${publicUrl}/jobs/${job.id}/${job.logToken}`;
}

function requester(job: Job): string {
  return displayName(job.requestedByName, job.requestedBy);
}

/** Job-level states that say more than a task's own state. */
const JOB_LEVEL: readonly TaskStatus[] = ["awaiting_approval", "rejected", "expired", "lost", "cancelled"];

function statusOf(job: Job, task: Task | undefined): TaskStatus {
  // While the job runs it shows as running: its outcome appears with its links, in one edit.
  if (!task || JOB_LEVEL.includes(job.status) || job.status === "running") return job.status;
  return task.status;
}

function errorLabel(code: string): Message {
  switch (code) {
    case "ssh_connect_failed":
    case "ssh_auth_failed":
    case "host_key_mismatch":
    case "unknown_host":
    case "connection_lost":
      return msg(`job.error_label.${code}`);
    default:
      return msg("job.error_label.other");
  }
}

/** One-line headline of a single host's outcome, e.g. "Failed on prod-db (exit 3)". */
export function outcomeLine(job: Job, task: Task | undefined, t: Translator = translator(job.lang)): string {
  const host = task?.hostName ?? job.target;
  switch (statusOf(job, task)) {
    case "awaiting_approval":
      return t("job.outcome.awaiting_approval", { host });
    case "rejected":
      return t("job.outcome.rejected", { host });
    case "expired":
      return t("job.outcome.expired", { host });
    case "queued":
      return t("job.outcome.queued", { host });
    case "running":
      return t("job.outcome.running", { host });
    case "succeeded":
      return t("job.outcome.succeeded", { host });
    case "failed":
      if (task?.errorCode) return t("job.outcome.failed_error", { host, problem: errorLabel(task.errorCode) });
      if (task?.signal) return t("job.outcome.failed_signal", { host, signal: task.signal });
      return t("job.outcome.failed_exit", { host, code: task?.exitCode ?? "?" });
    case "timed_out":
      return t("job.outcome.timed_out", { host, duration: formatDuration(job.timeoutMs, t.lang) });
    case "cancelled":
      return job.cancelledBy ? t("job.outcome.cancelled_by", { host, by: job.cancelledBy }) : t("job.outcome.cancelled", { host });
    case "lost":
      return t("job.outcome.lost", { host });
    case "skipped":
      return t("job.outcome.skipped", { host });
  }
}

/** Headline of a job on several hosts. */
function fanoutLine(job: Job, tasks: readonly Task[], t: Translator): string {
  const count = tasks.length;
  const counts = countTasks(tasks);
  switch (job.status) {
    case "awaiting_approval":
      return t("job.fanout.awaiting_approval", { count });
    case "rejected":
      return t("job.fanout.rejected", { count });
    case "expired":
      return t("job.fanout.expired", { count });
    case "queued":
      return t("job.fanout.queued", { count });
    case "running":
      return t("job.fanout.running", { count });
    case "succeeded":
      return t("job.fanout.succeeded", { count });
    case "cancelled":
      return job.cancelledBy ? t("job.fanout.cancelled_by", { count, by: job.cancelledBy }) : t("job.fanout.cancelled", { count });
    case "lost":
      return t("job.fanout.lost");
    case "timed_out":
      return t("job.fanout.timed_out", { timedOut: tasks.filter((task) => task.status === "timed_out").length, count, duration: formatDuration(job.timeoutMs, t.lang) });
    default:
      return counts.skipped ? t("job.fanout.failed_skipped", { failed: counts.failed, count, skipped: counts.skipped }) : t("job.fanout.failed", { failed: counts.failed, count });
  }
}

function durationOf(job: Job, task: Task | undefined, now: number, t: Translator): string | undefined {
  const start = task?.startedAt ?? job.startedAt;
  if (!start) return undefined;
  const end = task?.finishedAt ?? job.finishedAt;
  return formatDuration((end ? end.getTime() : now) - start.getTime(), t.lang);
}

/** How much of a script chat shows: within every platform's code block limits (Discord: 1,000 characters in an embed). */
const SCRIPT_EXCERPT = { lines: 25, chars: 900 } as const;

/**
 * A script as chat shows it: its first lines in a code block and, when that is
 * not all of it, how much is left out and a link to the job page, which shows
 * the whole script.
 */
export function scriptExcerpt(job: Job, t: Translator, publicUrl?: string, maxLines: number = SCRIPT_EXCERPT.lines): Block[] {
  const lines = job.command.replace(/\n+$/, "").split("\n");
  const shown: string[] = [];
  let size = 0;
  for (const line of lines.slice(0, maxLines)) {
    const cut = truncate(line, 200);
    if (shown.length > 0 && size + cut.length + 1 > SCRIPT_EXCERPT.chars) break;
    shown.push(cut);
    size += cut.length + 1;
  }
  const blocks: Block[] = [{ type: "code", lines: shown }];
  if (shown.length < lines.length) {
    blocks.push({ type: "context", text: t("view.script_excerpt", { shown: shown.length, total: lines.length }) });
    if (publicUrl) blocks.push({ type: "links", links: [{ label: t("link.whole_script"), url: jobPageUrl(publicUrl, job) }] });
  }
  return blocks;
}

/** The parent message in the channel, in the language of `t` (the requester's). */
export function renderParent(job: Job, tasks: readonly Task[], publicUrl: string, t: Translator = translator(job.lang), now = Date.now()): View {
  const single = tasks.length === 1 ? tasks[0] : undefined;
  const status = single ? statusOf(job, single) : job.status;
  const headline = `${STATUS_ICON[status]} ${single ? outcomeLine(job, single, t) : fanoutLine(job, tasks, t)}`;
  const fields: Array<{ label: string; value: string }> = [
    {
      label: t(job.kind === "script" ? "view.script" : "view.command"),
      value: job.kind === "script" ? t("view.script_lines", { count: job.command.replace(/\n+$/, "").split("\n").length }) : truncate(job.command, 500),
    },
    single
      ? { label: t("view.host"), value: single.hostName }
      : { label: t("view.hosts_count", { count: tasks.length }), value: truncate(`${job.target}: ${compactNames(tasks.map((task) => task.hostName))}`, 500) },
    { label: t("view.requested_by"), value: requester(job) },
    { label: t("view.job"), value: `#${job.id}` },
  ];
  if (single?.exitCode !== null && single?.exitCode !== undefined) fields.push({ label: t("view.exit_code"), value: String(single.exitCode) });
  const duration = durationOf(job, single, now, t);
  if (duration && !["queued", "awaiting_approval"].includes(status)) fields.push({ label: t("view.duration"), value: duration });
  // A job stopped at its limit says what the limit was.
  if (status === "timed_out") fields.push({ label: t("view.time_limit"), value: formatDuration(job.timeoutMs, t.lang) });

  const blocks: Block[] = [{ type: "heading", text: headline }];
  const scheduled = job.options as { schedule?: { id: number; name: string }; note?: string; runbook?: { name: string } };
  if (scheduled.runbook) blocks.push({ type: "context", text: t("job.runbook", { name: scheduled.runbook.name }) });
  if (scheduled.schedule) blocks.push({ type: "context", text: t("job.scheduled_report", { name: scheduled.schedule.name, id: scheduled.schedule.id }) });
  if (scheduled.note) blocks.push({ type: "text", text: scheduled.note });
  if (!single) blocks.push({ type: "text", text: `${progressBar(countTasks(tasks))}  ${countsLine(countTasks(tasks), t)}` });
  blocks.push({ type: "fields", fields });
  // Everyone in the channel sees what a script does, not only its #! line.
  if (job.kind === "script") blocks.push(...scriptExcerpt(job, t, publicUrl, 6));
  const problem = single?.error ?? job.error;
  // A succeeded command can still carry a problem: its log could not be stored.
  if (problem) blocks.push({ type: "text", text: problem });
  if (!ACTIVE.includes(job.status)) {
    const links = [];
    if (single?.logKey) links.push({ label: t("link.full_log"), url: logUrl(publicUrl, job) });
    if (!single && job.startedAt) links.push({ label: t("link.full_report"), url: reportUrl(publicUrl, job) });
    if (job.startedAt) links.push({ label: t("link.job_page"), url: jobPageUrl(publicUrl, job) });
    if (links.length > 0) blocks.push({ type: "links", links });
  } else {
    blocks.push({ type: "context", text: t("job.live_in_thread") });
  }
  return { text: `${headline} · ${truncate(job.command.split("\n")[0]!, 80)}`, tone: STATUS_TONE[status], blocks, lang: t.lang };
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

function cancelButton(job: Job, t: Translator): Block {
  return { type: "actions", buttons: [{ label: t("button.cancel"), action: encodeAction({ kind: "cancel", job: job.id }), style: "danger" }] };
}

/** "1,234 lines", with the number written as the language writes it. */
function lineCount(count: number, t: Translator): string {
  return t("live.lines", { count, n: formatCount(count, t.lang) });
}

/** The live message in the thread: the tail of the output while the job runs, in the language of `t`. */
export function renderLive(job: Job, host: string, state: LiveState, publicUrl: string, t: Translator = translator(job.lang)): View {
  const blocks: Block[] = [];
  const active = state.status === "running" || state.status === "queued" || state.status === "awaiting_approval";
  const time = formatClock(new Date(state.updatedAt));
  if (state.tasks && state.tasks.length > 1) {
    const counts = countTasks(state.tasks);
    blocks.push({ type: "text", text: `${progressBar(counts)}  ${countsLine(counts, t)}` });
    const running = state.tasks.filter((task) => task.status === "running").map((task) => task.hostName);
    if (state.showing && state.lines.length > 0) blocks.push({ type: "context", text: t("live.latest_from", { host: state.showing }) });
    if (state.lines.length > 0) blocks.push({ type: "code", lines: state.lines, omitted: state.omitted });
    const doing = running.length > 0 ? t("live.running_on", { hosts: compactNames(running) }) : t("live.waiting_for_hosts");
    blocks.push({ type: "context", text: `${doing} · ${t("live.updated", { time })}` });
    if (active) blocks.push(cancelButton(job, t));
    return { text: t("live.job_counts", { id: job.id, counts: countsLine(counts, t) }), tone: "progress", blocks, lang: t.lang };
  }
  if (state.lines.length > 0) blocks.push({ type: "code", lines: state.lines, omitted: state.omitted });
  else blocks.push({ type: "context", text: t(active ? "live.waiting_for_output" : "live.no_output") });
  const lines = lineCount(state.lineCount, t);
  const footer =
    state.status === "running"
      ? t("live.footer_running", { icon: STATUS_ICON.running, host, lines, time })
      : t("live.footer_done", { icon: STATUS_ICON[state.status], status: msg(`status.${state.status}`), host, lines });
  blocks.push({ type: "context", text: footer });
  if (active) blocks.push(cancelButton(job, t));
  // A job that never started has no log to link to.
  else if (job.startedAt) blocks.push({ type: "links", links: [{ label: t("link.full_log"), url: logUrl(publicUrl, job) }] });
  return { text: t("live.output_of", { id: job.id, host }), tone: STATUS_TONE[state.status], blocks, lang: t.lang };
}
