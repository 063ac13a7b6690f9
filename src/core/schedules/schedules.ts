import cron from "node-cron";
import type { Sql } from "../db.js";
import { TestumError, UsageError } from "../errors.js";
import { english, msg, type Lang, type Param, type Translator } from "../chat/i18n.js";

/** Scheduled reports: the model and the cron arithmetic. */
export interface Schedule {
  readonly id: number;
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly target: string;
  readonly command: string;
  readonly channel: string;
  readonly owner: string;
  readonly ownerName: string | null;
  readonly ownerGroups: readonly string[];
  readonly onChange: boolean;
  readonly timeoutMs: number;
  readonly paused: boolean;
  readonly approvalState: "none" | "pending" | "approved" | "rejected";
  readonly approvalReasons: readonly string[];
  readonly approvedHash: string | null;
  readonly approvedBy: string | null;
  /** Distinct approvers a risky schedule needs (TESTUM_APPROVALS_REQUIRED when it was made). */
  readonly approvalsRequired: number;
  readonly approvalMessage: string | null;
  readonly lastFireAt: Date | null;
  readonly lastOutputHash: string | null;
  readonly consecutiveFailures: number;
  readonly muted: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** The owner's language: reports and notes in the channel are in it. */
  readonly lang: Lang;
  /** A schedule of a runbook runs the runbook (as it is at each fire) with these values; `command` is what it ran when made. */
  readonly runbook: string | null;
  readonly runbookParams: Readonly<Record<string, string>> | null;
}

/** Checks a cron expression (5 fields, or 6 with seconds first); the error names the bad field. */
export function validateCron(expression: string): void {
  const result = cron.validateDetailed(expression.trim());
  if (result.valid) return;
  const problems = result.errors.map((e) => (e.field === "expression" ? e.message : msg("schedule.bad_cron_field", { field: e.field, value: e.value ?? "" })));
  const joined = problems.slice(1).reduce<Param>((all, problem) => msg("list.semicolon", { first: all, next: problem }), problems[0] ?? "");
  throw new UsageError(msg("schedule.bad_cron", { expression, problems: joined }));
}

export function validateTimezone(zone: string): void {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
  } catch {
    throw new UsageError(msg("schedule.bad_timezone", { zone }));
  }
}

/** The next `count` fire times. */
export function nextRuns(expression: string, timezone: string, count: number): Date[] {
  const task = cron.createTask(expression, () => {}, { timezone });
  try {
    return task.getNextRuns(count);
  } finally {
    void task.destroy();
  }
}

/** Matches a time against a pattern in its time zone. */
function matcher(expression: string, timezone: string): { match(date: Date): boolean; stepMs: number; done(): void } {
  const task = cron.createTask(expression, () => {}, { timezone });
  const hasSeconds = expression.trim().split(/\s+/).length === 6;
  return { match: (d) => task.match(d), stepMs: hasSeconds ? 1000 : 60_000, done: () => void task.destroy() };
}

/** Fire times strictly between `after` and `before` (at most `cap` counted): the ones nobody ran. */
export function missedBetween(expression: string, timezone: string, after: Date, before: Date, cap = 100_000): { count: number; last: Date | undefined; capped: boolean } {
  const m = matcher(expression, timezone);
  try {
    let count = 0;
    let last: Date | undefined;
    const step = m.stepMs;
    let t = Math.floor(after.getTime() / step) * step + step;
    let steps = 0;
    while (t < before.getTime()) {
      if (steps++ > cap) return { count, last, capped: true };
      const date = new Date(t);
      if (m.match(date)) {
        count += 1;
        last = date;
      }
      t += step;
    }
    return { count, last, capped: false };
  } finally {
    m.done();
  }
}

/** A cron expression in words (in the language of `t`), for confirmations; unusual ones are quoted as they are. */
export function describeCron(expression: string, t: Translator = english): string {
  const parts = expression.trim().split(/\s+/);
  const [sec, min, hour, dom, mon, dow] = parts.length === 6 ? parts : ["0", ...parts];
  const every = (field: string | undefined) => /^\*\/(\d+)$/.exec(field ?? "")?.[1];
  const rest = (fields: Array<string | undefined>) => fields.every((f) => f === "*");
  // `*` and `*/1` alike: "every minute", never "every 1 minutes".
  if (parts.length === 6 && (sec === "*" || every(sec) === "1") && rest([min, hour, dom, mon, dow])) return t("cron.every_second");
  if (parts.length === 6 && every(sec) && rest([min, hour, dom, mon, dow])) return t("cron.every_seconds", { count: Number(every(sec)) });
  if (sec === "0" && (min === "*" || every(min) === "1") && rest([hour, dom, mon, dow])) return t("cron.every_minute");
  if (sec === "0" && every(min) && rest([hour, dom, mon, dow])) return t("cron.every_minutes", { count: Number(every(min)) });
  if (sec === "0" && /^\d+$/.test(min!) && hour === "*" && rest([dom, mon, dow])) return t("cron.every_hour_at", { minute: min! });
  if (sec === "0" && /^\d+$/.test(min!) && /^\d+$/.test(hour!) && dom === "*" && mon === "*") {
    const at = `${hour!.padStart(2, "0")}:${min!.padStart(2, "0")}`;
    if (dow === "*") return t("cron.every_day_at", { at });
    if (dow === "1-5") return t("cron.every_weekday_at", { at });
    if (/^[0-6]$/.test(dow!)) return t(`cron.every_day_${dow as "0" | "1" | "2" | "3" | "4" | "5" | "6"}_at`, { at });
  }
  return t("cron.other", { expression });
}

export async function getSchedule(sql: Sql, id: number): Promise<Schedule> {
  const [schedule] = await sql<Schedule[]>`select * from schedules where id = ${id}`;
  if (!schedule) throw new TestumError("invalid_input", msg("schedule.unknown", { id }));
  return schedule;
}

export async function listSchedules(sql: Sql, channel?: string): Promise<Schedule[]> {
  return channel ? sql<Schedule[]>`select * from schedules where channel = ${channel} order by id` : sql<Schedule[]>`select * from schedules order by id`;
}
