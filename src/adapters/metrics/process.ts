import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * What this process does, counted as it happens: Node's own metrics, SSH
 * connections, tasks, stored log bytes and chat API calls. One registry per
 * process (a web side and a worker each have theirs); Prometheus adds them up.
 */
export const processRegistry = new Registry();
// Node's standard series (process_*, nodejs_*), under their usual names.
collectDefaultMetrics({ register: processRegistry });

export const sshConnectSeconds = new Histogram({
  name: "testum_ssh_connect_seconds",
  help: "Time to open an SSH connection to a host (TCP, handshake, host key check, login), by outcome.",
  labelNames: ["outcome"] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
  registers: [processRegistry],
});

export const taskSeconds = new Histogram({
  name: "testum_task_duration_seconds",
  help: "How long a job's command ran on one host, by the task's final status.",
  labelNames: ["status"] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
  registers: [processRegistry],
});

export const logBytesStored = new Counter({
  name: "testum_log_bytes_stored_total",
  help: "Bytes of job output and reports written to the log store.",
  registers: [processRegistry],
});

export const chatCalls = new Counter({
  name: "testum_chat_api_calls_total",
  help: "Calls to a chat platform's Web API, by platform and method (Slack method name; Discord HTTP method and route).",
  labelNames: ["platform", "method"] as const,
  registers: [processRegistry],
});

export const chatRateLimited = new Counter({
  name: "testum_chat_api_rate_limited_total",
  help: "Chat API calls answered 429 (rate limited), by platform and method.",
  labelNames: ["platform", "method"] as const,
  registers: [processRegistry],
});

/** Connections this process opened, until they close. */
const sshConnections = new Set<{ readonly isOpen: boolean }>();
/** Connection pools and how many idle connections each holds. */
const pools = new Set<{ idleCount(): number }>();

function pruneClosed(): void {
  for (const conn of sshConnections) if (!conn.isOpen) sshConnections.delete(conn);
}

/** Counts an SSH connection as open for as long as it is. */
export function trackSshConnection(conn: { readonly isOpen: boolean }): void {
  if (sshConnections.size >= 1000) pruneClosed();
  sshConnections.add(conn);
}

/** Counts a pool's idle connections until `untrack` is called. */
export function trackPool(pool: { idleCount(): number }): { untrack(): void } {
  pools.add(pool);
  return { untrack: () => void pools.delete(pool) };
}

new Gauge({
  name: "testum_ssh_connections_open",
  help: "SSH connections this process has open (running commands, or idle in a pool).",
  registers: [processRegistry],
  collect() {
    pruneClosed();
    this.set(sshConnections.size);
  },
});

new Gauge({
  name: "testum_ssh_connections_pooled",
  help: "Open SSH connections waiting idle in a pool for the next job on their host.",
  registers: [processRegistry],
  collect() {
    let idle = 0;
    for (const pool of pools) idle += pool.idleCount();
    this.set(idle);
  },
});
