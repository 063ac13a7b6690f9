import type { Sql } from "../db.js";
import { undelivered } from "./outbox.js";
import { missedBetween } from "../schedules/schedules.js";

/**
 * Counts read from the database for the metrics endpoint. They describe the
 * whole installation, so every testum process reports the same values.
 */
export interface Stats {
  /** Jobs by status and chat platform (the part of the conversation reference before the first colon). */
  readonly jobs: ReadonlyArray<{ readonly status: string; readonly platform: string; readonly count: number }>;
  /** Seconds the oldest job waiting for a worker has waited (0 when none waits). */
  readonly oldestQueuedSeconds: number;
  /** Jobs waiting for approval, and schedules whose risky command waits for one. */
  readonly approvalsPending: { readonly jobs: number; readonly schedules: number };
  /** Rows in the audit log. */
  readonly auditRows: number;
  /** Schedule fires by how they ended (queued, done, refused, skipped_overlap …). */
  readonly scheduleFires: ReadonlyArray<{ readonly outcome: string; readonly count: number }>;
  /** Fires of active schedules due in the last day (and a minute ago or more) that no process ran. */
  readonly scheduleMissed: number;
  /** Job messages whose newest state chat does not show yet, by platform. */
  readonly undelivered: Readonly<Record<string, number>>;
}

/** A fire is missed once it is this late (a fire takes a moment to be recorded). */
const MISSED_AFTER_MS = 60_000;
/** How far back misses are counted: further is pointless for an alert and costly on every scrape. */
const MISSED_WINDOW_MS = 86_400_000;
/** Most clock steps looked at a schedule (a day of minutes). */
const MISSED_STEPS = 1440;

export async function readStats(sql: Sql, now = new Date()): Promise<Stats> {
  const [jobs, [queued], [pending], [audit], fires, schedules, behind] = await Promise.all([
    sql<{ status: string; platform: string; count: number }[]>`
      select status, split_part(conversation, ':', 1) as platform, count(*)::int as count from jobs group by 1, 2 order by 1, 2`,
    sql<{ seconds: number | null }[]>`
      select extract(epoch from (${now}::timestamptz - min(created_at)))::float8 as seconds from jobs where status = 'queued'`,
    sql<{ jobs: number; schedules: number }[]>`
      select (select count(*)::int from jobs where status = 'awaiting_approval') as jobs,
             (select count(*)::int from schedules where approval_state = 'pending') as schedules`,
    sql<{ rows: number }[]>`select coalesce(max(seq), 0)::float8 as rows from audit`,
    sql<{ outcome: string; count: number }[]>`
      select coalesce(outcome, 'unknown') as outcome, count(*)::int as count from schedule_fires group by 1 order by 1`,
    sql<{ cron: string; timezone: string; since: Date }[]>`
      select cron, timezone, coalesce(last_fire_at, created_at) as since from schedules where not paused`,
    undelivered(sql),
  ]);
  const before = new Date(now.getTime() - MISSED_AFTER_MS);
  const windowStart = new Date(before.getTime() - MISSED_WINDOW_MS);
  let scheduleMissed = 0;
  for (const s of schedules) {
    if (s.since >= before) continue;
    try {
      const after = s.since > windowStart ? s.since : windowStart;
      scheduleMissed += missedBetween(s.cron, s.timezone, after, before, MISSED_STEPS).count;
    } catch {
      // A schedule whose cron or zone no longer parses fires nothing; the scheduler reports it.
    }
  }
  return {
    jobs,
    oldestQueuedSeconds: Math.max(0, queued?.seconds ?? 0),
    approvalsPending: { jobs: pending?.jobs ?? 0, schedules: pending?.schedules ?? 0 },
    auditRows: audit?.rows ?? 0,
    scheduleFires: fires,
    scheduleMissed,
    undelivered: behind,
  };
}
