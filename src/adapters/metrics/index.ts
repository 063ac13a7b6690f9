import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Gauge, Registry } from "prom-client";
import type { Sql } from "../../core/db.js";
import type { Logger } from "../../core/ports.js";
import { readStats, type Stats } from "../../core/jobs/stats.js";
import { processRegistry } from "./process.js";

export interface MetricsDeps {
  readonly sql: Sql;
  readonly log: Logger;
  /** BullMQ's counts of the job queue by state (waiting, active, delayed …). */
  readonly queueCounts: () => Promise<Record<string, number>>;
  /** When set, a scrape must send `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
}

/** The database and queue read at most this long per scrape; a slow one leaves its series out. */
const SCRAPE_TIMEOUT_MS = 3000;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${SCRAPE_TIMEOUT_MS} ms`)), SCRAPE_TIMEOUT_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * `GET /metrics` in Prometheus' text format: this process's own series plus
 * the installation's counts read from PostgreSQL and Redis at each scrape.
 */
export function createMetricsRoute(deps: MetricsDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const registry = new Registry();
  let stats: Stats | undefined;
  let queue: Record<string, number> | undefined;

  new Gauge({
    name: "testum_jobs",
    help: "Jobs in the database by status and chat platform (the same on every process).",
    labelNames: ["status", "platform"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const row of stats?.jobs ?? []) this.set({ status: row.status, platform: row.platform }, row.count);
    },
  });
  new Gauge({
    name: "testum_queue_jobs",
    help: "Entries in the Redis job queue by state: waiting for a worker, active, delayed.",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, count] of Object.entries(queue ?? {})) this.set({ state }, count);
    },
  });
  const single = (name: string, help: string, value: (s: Stats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        if (stats) this.set(value(stats));
      },
    });
  single("testum_queue_oldest_job_age_seconds", "Seconds the oldest queued job has waited for a worker (0 when none waits).", (s) => s.oldestQueuedSeconds);
  single("testum_approvals_pending", "Jobs waiting for approval.", (s) => s.approvalsPending.jobs);
  single("testum_schedule_approvals_pending", "Schedules whose risky command waits for approval.", (s) => s.approvalsPending.schedules);
  single("testum_audit_rows", "Rows in the audit log.", (s) => s.auditRows);
  single("testum_schedule_missed_fires", "Fires of active schedules due in the last day that no process ran.", (s) => s.scheduleMissed);
  new Gauge({
    name: "testum_chat_undelivered_messages",
    help: "Job messages whose newest state the chat platform does not show yet (rate limited, unavailable, or on their way).",
    labelNames: ["platform"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [platform, count] of Object.entries(stats?.undelivered ?? {})) this.set({ platform }, count);
    },
  });
  const up = new Gauge({
    name: "testum_metrics_source_up",
    help: "1 when the last scrape could read this source (postgres, redis); 0 when its series are stale.",
    labelNames: ["source"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "testum_schedule_fires",
    help: "Schedule fires recorded, by how they ended (queued, done, refused, owner_unavailable, paused_owner_unresolved, needs_approval, skipped_overlap, skipped_paused, failed).",
    labelNames: ["outcome"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const row of stats?.scheduleFires ?? []) this.set({ outcome: row.outcome }, row.count);
    },
  });

  const expected = deps.token ? Buffer.from(`Bearer ${deps.token}`) : undefined;
  const authorized = (req: IncomingMessage) => {
    if (!expected) return true;
    const given = Buffer.from(req.headers.authorization ?? "");
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { "content-type": "text/plain; charset=utf-8" }).end("Method not allowed\n");
      return;
    }
    if (!authorized(req)) {
      res
        .writeHead(401, { "content-type": "text/plain; charset=utf-8", "www-authenticate": 'Bearer realm="testum metrics"' })
        .end("Send the metrics token: Authorization: Bearer <METRICS_TOKEN>\n");
      return;
    }
    const [read, counted] = await Promise.allSettled([withTimeout(readStats(deps.sql), "PostgreSQL"), withTimeout(deps.queueCounts(), "Redis")]);
    if (read.status === "fulfilled") stats = read.value;
    if (counted.status === "fulfilled") queue = counted.value;
    up.set({ source: "postgres" }, read.status === "fulfilled" ? 1 : 0);
    up.set({ source: "redis" }, counted.status === "fulfilled" ? 1 : 0);
    for (const failed of [read, counted]) {
      if (failed.status === "rejected") deps.log.warn({ err: (failed.reason as Error).message }, "metrics: a count could not be read; its series keep their last values");
    }
    const merged = Registry.merge([processRegistry, registry]);
    const body = await merged.metrics();
    res.writeHead(200, { "content-type": merged.contentType, "cache-control": "no-store" }).end(body);
  };
}
