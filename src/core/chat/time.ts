import type { Translator } from "./i18n.js";

/**
 * The one way testum writes a moment for people, in chat, on pages and in the
 * CLI: UTC, ISO-like, to the minute (`2026-12-07 04:56 UTC`), or to the second
 * where rows a second apart must stay apart (the audit trail). Machine output
 * (`--json`, the audit chain) keeps full ISO 8601.
 */
export function formatTime(d: Date, precision: "minutes" | "seconds" = "minutes"): string {
  return `${d
    .toISOString()
    .slice(0, precision === "seconds" ? 19 : 16)
    .replace("T", " ")} UTC`;
}

/** A time of day within a job that is happening now: `04:56:07 UTC` (live output's "updated" stamp). */
export function formatClock(d: Date): string {
  return `${d.toISOString().slice(11, 19)} UTC`;
}

/** How long ago, in the reader's language: "just now", "5 min ago", "3 h ago", "2 days ago". */
export function formatAgo(d: Date, t: Translator, now = Date.now()): string {
  const minutes = Math.floor((now - d.getTime()) / 60_000);
  if (minutes < 1) return t("time.just_now");
  if (minutes < 60) return t("time.minutes_ago", { count: minutes });
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return t("time.hours_ago", { count: hours });
  return t("time.days_ago", { count: Math.floor(hours / 24) });
}

/** A moment with how long ago it was: `2026-12-07 04:56 UTC (5 min ago)`; past moments only get the "ago". */
export function formatTimeAgo(d: Date, t: Translator, now = Date.now()): string {
  return d.getTime() <= now ? `${formatTime(d)} (${formatAgo(d, t, now)})` : formatTime(d);
}
