import { displayName, type Block, type View } from "../chat/chat.js";
import { formatDuration } from "../duration.js";
import { english, msg, translator, type Translator } from "../chat/i18n.js";
import type { Job, Task, TaskStatus } from "./jobs.js";
import { truncate } from "./tail.js";

/** Reading many hosts' results in chat: compact names, counts, groups of identical results. */

/**
 * Host names written compactly: `web-01 … web-38` becomes `web-[01-38]`,
 * gaps become lists (`web-[01-03,05]`), other names stay as they are.
 */
export function compactNames(names: readonly string[]): string {
  const groups = new Map<string, { prefix: string; suffix: string; width: number; numbers: number[] }>();
  const plain: string[] = [];
  for (const name of [...new Set(names)].sort()) {
    const match = /^(.*?)(\d+)(\D*)$/.exec(name);
    if (!match) {
      plain.push(name);
      continue;
    }
    const [, prefix, digits, suffix] = match as unknown as [string, string, string, string];
    // Numbers of one width form a family (web-01 … web-24), so padding is kept as written.
    const width = digits.length;
    const key = `${prefix}\0${suffix}\0${width}`;
    const group = groups.get(key) ?? { prefix, suffix, width, numbers: [] };
    group.numbers.push(Number(digits));
    groups.set(key, group);
  }
  const parts: string[] = [...plain];
  for (const g of groups.values()) {
    const fmt = (n: number) => String(n).padStart(g.width, "0");
    if (g.numbers.length === 1) {
      parts.push(`${g.prefix}${fmt(g.numbers[0]!)}${g.suffix}`);
      continue;
    }
    const sorted = [...g.numbers].sort((a, b) => a - b);
    const ranges: string[] = [];
    let start = sorted[0]!;
    let prev = start;
    for (const n of [...sorted.slice(1), Number.NaN]) {
      if (n === prev + 1) {
        prev = n;
        continue;
      }
      ranges.push(start === prev ? fmt(start) : `${fmt(start)}-${fmt(prev)}`);
      start = prev = n;
    }
    parts.push(`${g.prefix}[${ranges.join(",")}]${g.suffix}`);
  }
  return parts.sort().join(", ");
}

export type Counts = Readonly<Record<"ok" | "failed" | "running" | "queued" | "skipped", number>>;

export function countTasks(tasks: readonly Pick<Task, "status">[]): Counts {
  const counts = { ok: 0, failed: 0, running: 0, queued: 0, skipped: 0 };
  for (const t of tasks) {
    if (t.status === "succeeded") counts.ok += 1;
    else if (t.status === "running") counts.running += 1;
    else if (t.status === "queued" || t.status === "awaiting_approval") counts.queued += 1;
    else if (t.status === "skipped" || t.status === "cancelled") counts.skipped += 1;
    else counts.failed += 1;
  }
  return counts;
}

/** `▓▓▓▓▓▓░░░░ 60%`: the share of hosts that have finished. */
export function progressBar(counts: Counts, width = 20): string {
  const total = counts.ok + counts.failed + counts.running + counts.queued + counts.skipped;
  const done = counts.ok + counts.failed + counts.skipped;
  const share = total === 0 ? 0 : done / total;
  const filled = Math.round(share * width);
  return `${"▓".repeat(filled)}${"░".repeat(width - filled)} ${Math.floor(share * 100)}%`;
}

export function countsLine(counts: Counts, t: Translator = english): string {
  return t("counts.line", counts);
}

/** Outcomes ordered for people: failures first, success last. */
const ORDER: Record<TaskStatus, number> = {
  failed: 0,
  timed_out: 1,
  lost: 2,
  cancelled: 3,
  skipped: 4,
  rejected: 5,
  expired: 6,
  awaiting_approval: 7,
  queued: 8,
  running: 9,
  succeeded: 10,
};

export interface ResultGroup {
  readonly status: TaskStatus;
  readonly exitCode: number | null;
  readonly error: string | null;
  readonly hosts: readonly string[];
  readonly tail: string;
}

/** An error with the host's own name taken out, so hosts that failed the same way share a group. */
const HOST_MARK = "\u0001";
function errorShape(error: string | null, host: string): string {
  return error === null ? "" : error.split(host).join(HOST_MARK);
}

/**
 * Hosts with the same outcome, the same error and the same output, failures
 * first, then bigger groups first. Errors that differ in more than the host's
 * name (two host keys with different fingerprints) are never merged.
 */
export function groupResults(tasks: readonly Task[]): ResultGroup[] {
  const groups = new Map<string, { status: TaskStatus; exitCode: number | null; shape: string; error: string | null; hosts: string[]; tail: string }>();
  for (const t of tasks) {
    const shape = errorShape(t.error, t.hostName);
    const key = [t.status, t.exitCode ?? "", t.errorCode ?? "", t.signal ?? "", shape, t.outputHash ?? t.tail ?? ""].join("\0");
    const group = groups.get(key);
    if (group) group.hosts.push(t.hostName);
    else groups.set(key, { status: t.status, exitCode: t.exitCode, shape, error: t.error, hosts: [t.hostName], tail: t.tail ?? "" });
  }
  return [...groups.values()]
    .map(({ shape, ...g }) => ({ ...g, error: g.hosts.length > 1 && g.error !== null ? shape.split(HOST_MARK).join(compactNames(g.hosts)) : g.error }))
    .sort((a, b) => ORDER[a.status] - ORDER[b.status] || b.hosts.length - a.hosts.length);
}

function groupTitle(group: ResultGroup, t: Translator): string {
  const icon = group.status === "succeeded" ? "✅" : group.status === "skipped" || group.status === "cancelled" ? "⏭️" : "❌";
  const what =
    group.status === "succeeded"
      ? msg("summary.exit", { code: 0 })
      : group.status === "failed" && group.exitCode !== null
        ? msg("summary.exit", { code: group.exitCode })
        : msg(`status.${group.status}`);
  return t("summary.group", { icon, what, count: group.hosts.length, names: compactNames(group.hosts) });
}

/** Limits that hold on every platform: what one summary message may carry. */
const SUMMARY = { groups: 6, tailLines: 8, tailChars: 600, logLinks: 4, errorChars: 900 } as const;

export function reportUrl(publicUrl: string, job: Pick<Job, "logToken">): string {
  return `${publicUrl}/reports/${job.logToken}`;
}

/**
 * The summary posted in the thread when a job on several hosts ends: the
 * groups, each with its shared tail and log links, within every platform's
 * limits; what does not fit is counted and left to the full report.
 */
export function renderSummary(job: Job, tasks: readonly Task[], publicUrl: string, t: Translator = translator(job.lang)): View {
  const groups = groupResults(tasks);
  const counts = countTasks(tasks);
  const blocks: Block[] = [
    { type: "heading", text: t("summary.heading", { id: job.id, count: tasks.length }) },
    { type: "text", text: `${progressBar(counts)}  ${countsLine(counts, t)}` },
    { type: "links", links: [{ label: t("summary.full_report"), url: reportUrl(publicUrl, job) }] },
  ];
  for (const group of groups.slice(0, SUMMARY.groups)) {
    blocks.push({ type: "heading", text: groupTitle(group, t) });
    // The whole error: it may carry what an admin must compare (a host key's fingerprints).
    if (group.error && group.status !== "succeeded") blocks.push({ type: "text", text: truncate(group.error, SUMMARY.errorChars) });
    const lines = group.tail.split("\n").filter((l, i, all) => l !== "" || i < all.length - 1);
    const shown = lines.slice(-SUMMARY.tailLines);
    if (shown.length > 0 && shown.join("\n").trim() !== "") {
      blocks.push({ type: "code", lines: shown.map((l) => truncate(l, SUMMARY.tailChars / SUMMARY.tailLines)), omitted: lines.length - shown.length });
    }
    const links = group.hosts.slice(0, SUMMARY.logLinks).map((h) => ({ label: t("summary.log", { host: h }), url: `${publicUrl}/logs/${job.logToken}/${encodeURIComponent(h)}` }));
    const unlinked = group.hosts.length - links.length;
    if (unlinked > 0) links.push({ label: t("summary.more_logs", { count: unlinked }), url: reportUrl(publicUrl, job) });
    if (links.length > 0) blocks.push({ type: "links", links });
  }
  const hidden = groups.slice(SUMMARY.groups);
  const hiddenHosts = hidden.reduce((n, g) => n + g.hosts.length, 0);
  const more = groups.some((g) => g.hosts.length > SUMMARY.logLinks) ? ` ${t("summary.logs_in_report")}` : "";
  blocks.push({
    type: "context",
    text: (hidden.length > 0 ? t("summary.more_groups", { count: hidden.length, hosts: hiddenHosts }) : t("summary.grouped")) + more,
  });
  const tone = counts.failed > 0 ? "failure" : counts.skipped > 0 ? "warning" : "success";
  return { text: t("live.job_counts", { id: job.id, counts: countsLine(counts, t) }), tone, blocks, lang: t.lang };
}

/** The full report as plain text, one line per host, in the language of `t`. */
export function renderReport(job: Job, tasks: readonly Task[], publicUrl: string, t: Translator = translator(job.lang)): string {
  const head = { host: t("report.col.host"), status: t("report.col.status"), exit: t("report.col.exit"), duration: t("report.col.duration") };
  const width = Math.max(head.host.length, ...tasks.map((task) => task.hostName.length));
  const statusWidth = Math.max(10, head.status.length);
  const exitWidth = Math.max(4, head.exit.length);
  const durationWidth = Math.max(8, head.duration.length);
  const lines = [
    t("report.title", { id: job.id, command: job.command }),
    t("report.subtitle", { target: job.target, who: displayName(job.requestedByName, job.requestedBy), status: msg(`state.${job.status}`) }),
    "",
    `${head.host.padEnd(width)}  ${head.status.padEnd(statusWidth)}  ${head.exit.padEnd(exitWidth)}  ${head.duration.padEnd(durationWidth)}  ${t("report.col.log")}`,
  ];
  const sorted = [...tasks].sort((a, b) => ORDER[a.status] - ORDER[b.status] || a.hostName.localeCompare(b.hostName));
  for (const task of sorted) {
    const duration = task.startedAt && task.finishedAt ? formatDuration(task.finishedAt.getTime() - task.startedAt.getTime(), t.lang) : "-";
    const detail = task.logKey ? `${publicUrl}/logs/${job.logToken}/${encodeURIComponent(task.hostName)}` : (task.error ?? "").split("\n")[0];
    const status = t(`state.${task.status}`);
    lines.push(`${task.hostName.padEnd(width)}  ${status.padEnd(statusWidth)}  ${String(task.exitCode ?? "-").padStart(exitWidth)}  ${duration.padEnd(durationWidth)}  ${detail}`);
    // A host's error in full under its line, when the log link took its place.
    if (task.logKey && task.error) for (const line of task.error.split("\n")) lines.push(`${" ".repeat(width + 2)}${line}`);
  }
  return lines.join("\n") + "\n";
}
