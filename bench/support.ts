// What the benchmarks share: cleanup that survives errors and Ctrl-C, a testum worker in this
// process with its own database, Redis prefix and fake Slack, bare ssh2 connections, and machine
// load readings.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import postgres from "postgres";
import ssh2 from "ssh2";
import { createJobQueue } from "../src/adapters/redis/queue.js";
import { loadConfig } from "../src/config.js";
import { connect, type Sql } from "../src/core/db.js";
import { addHost, type Host } from "../src/core/hosts/hosts.js";
import { createSecretBox } from "../src/core/hosts/secret-box.js";
import { createLogger } from "../src/logger.js";
import { startTestum } from "../src/runtime.js";
import { DEFAULT_BOT_TOKEN, DEFAULT_CHANNEL_ID, DEFAULT_TEAM_ID, startFakeSlack, type FakeSlack } from "../tests/fakes/slack-api.js";
import { databaseUrl, PG_BASE } from "../tests/helpers/db.js";
import { SSH_TEST_USER, type SshHost } from "../tests/helpers/sshd.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const CONVERSATION = `slack:${DEFAULT_TEAM_ID}:${DEFAULT_CHANNEL_ID}`;
const CLEANUP_STEP_MS = 20_000;

export const say = (line: string) => process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------
// cleanup that survives errors and Ctrl-C

type Step = { readonly name: string; readonly fn: () => Promise<void> | void };

/** Undo steps, run last-in first-out; each failure is reported and the rest still run. */
export class Cleanup {
  private readonly steps: Step[] = [];

  /** Registers an undo step; the returned function runs it now (once) instead of at the end. */
  add(name: string, fn: () => Promise<void> | void): () => Promise<void> {
    const step: Step = { name, fn };
    this.steps.push(step);
    return async () => {
      const at = this.steps.indexOf(step);
      if (at === -1) return;
      this.steps.splice(at, 1);
      await step.fn();
    };
  }

  async runAll(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      // A step that hangs (say, testum's stop with Redis gone) must not keep the rest from running.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not finish within ${CLEANUP_STEP_MS / 1000} s`)), CLEANUP_STEP_MS);
      });
      try {
        await Promise.race([Promise.resolve().then(step.fn), timeout]);
      } catch (err) {
        say(`cleanup: ${step.name} failed: ${(err as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

export const cleanups = new Set<Cleanup>();
let interrupted = false;
/** True once Ctrl-C (or SIGTERM) asked the bench to stop. */
export const isInterrupted = () => interrupted;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    // A second signal while cleaning up: leave now (sshd hosts are still reaped at exit).
    if (interrupted) process.exit(130);
    interrupted = true;
    say(`\n${sig}: cleaning up…`);
    void Promise.all([...cleanups].map((c) => c.runAll())).finally(() => process.exit(130));
  });
}

/** Busy seconds of all cores together since boot (/proc/stat, idle and iowait excluded). */
export function machineBusySeconds(): number {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const busy = fields.slice(0, 8).reduce((sum, v, i) => (i === 3 || i === 4 ? sum : sum + v), 0);
  return busy / 100;
}

// ---------------------------------------------------------------------------------------------
// testum

export interface BenchTestum {
  readonly sql: Sql;
  readonly hosts: Host[];
  readonly warmupHost: Host;
  readonly slack: FakeSlack;
  readonly redis: Redis;
  readonly prefix: string;
  readonly logLines: string[];
  /** testum's TESTUM_DATA_DIR: the local log store is its logs/ directory. */
  readonly dataDir: string;
  enqueue(jobId: number): Promise<void>;
  /** Stops testum (its pooled connections close) and removes its database and Redis keys. */
  stop(): Promise<void>;
}

export async function startBenchTestum(n: number, sshHosts: readonly SshHost[], warmup: SshHost, clientKey: string, cleanup: Cleanup, tmp: string): Promise<BenchTestum> {
  const tag = randomBytes(5).toString("hex");
  const dbName = `testum_bench_${tag}`;
  const dbUrl = databaseUrl(dbName);
  const prefix = `testum-bench-${tag}`;
  cleanup.add(`drop database ${dbName}`, async () => {
    const admin = postgres(`${PG_BASE}/postgres`, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    } finally {
      await admin.end({ timeout: 5 });
    }
  });

  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  cleanup.add(`Redis keys ${prefix}:*`, async () => {
    try {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== "0");
    } finally {
      redis.disconnect();
    }
  });

  // Generous limits: chat must never be what the measurement waits on.
  const unlimited = { perMinute: 1_000_000, burst: 1_000_000 };
  const slack = await startFakeSlack({
    rateLimits: { "chat.update": { ...unlimited, scope: "team" }, "chat.postMessage": { ...unlimited, scope: "channel" } },
  });
  cleanup.add("fake Slack", () => slack.close());

  const config = loadConfig({
    DATABASE_URL: dbUrl,
    REDIS_URL,
    TESTUM_REDIS_PREFIX: prefix,
    HOST: "127.0.0.1",
    PORT: "0",
    PUBLIC_URL,
    TESTUM_DATA_DIR: join(tmp, "testum-data"),
    TESTUM_MASTER_KEY: randomBytes(32).toString("base64"),
    SLACK_SIGNING_SECRET: "bench-signing-secret",
    SLACK_BOT_TOKEN: DEFAULT_BOT_TOKEN,
    SLACK_API_URL: slack.url,
    // Room for every host of the job at once.
    TESTUM_WORKER_HOSTS: String(Math.max(500, n)),
    LOG_LEVEL: "warn",
  });
  // Warnings and errors are kept, and shown after the run: stdout is for the tables.
  const logLines: string[] = [];
  const log = createLogger("warn", { destination: { write: (line: string) => void logLines.push(line) } });
  // The web side plays no part in a run: the worker alone, as a worker process runs it.
  const running = await startTestum(config, { serve: false, work: true, log });
  const stopTestum = cleanup.add("testum", () => running.stop());

  const sql = connect(dbUrl, { max: 2 });
  const closeSql = cleanup.add("bench database connection", () => sql.end({ timeout: 5 }));
  const queue = createJobQueue(redis, prefix);
  const closeQueue = cleanup.add("bench job queue", () => queue.close());

  // Fingerprints pinned at registration, as `hosts add --fingerprint` does: no first-contact
  // pinning (an extra update and audit entry per host) in the cold run.
  const box = createSecretBox([config.masterKey]);
  const register = (h: SshHost, name: string) =>
    addHost(sql, box, {
      name,
      address: h.host,
      port: h.port,
      username: SSH_TEST_USER,
      credential: { type: "key", privateKey: clientKey },
      fingerprint: h.hostKeyFingerprint,
      createdBy: "local:bench",
    });
  const hosts: Host[] = [];
  for (const h of sshHosts) hosts.push(await register(h, h.name));
  const warmupHost = await register(warmup, "warmup");

  return {
    sql,
    hosts,
    warmupHost,
    slack,
    redis,
    prefix,
    logLines,
    dataDir: join(tmp, "testum-data"),
    enqueue: (jobId) => queue.enqueue(jobId),
    async stop() {
      await closeQueue();
      await closeSql();
      await stopTestum();
    },
  };
}

/** The URL testum's links start with in the benches. */
export const PUBLIC_URL = "http://127.0.0.1:3000";

/**
 * What chat saw of a job once its messages were delivered (waits up to `waitMs` for that): the
 * Slack calls refused in the window (the fake enforces Slack's size limits; rate limits aside),
 * and the size of the live message's last edit.
 */
export async function chatReport(t: BenchTestum, jobId: number, callsBefore: number, waitMs = 30_000): Promise<string> {
  const deadline = Date.now() + waitMs;
  let rows: Array<{ slot: string; message: string | null; pending: boolean }> = [];
  while (Date.now() < deadline) {
    rows = await t.sql`select slot, message, delivered_version < version and not given_up as pending from job_messages where job_id = ${jobId}`;
    if (rows.length > 0 && rows.every((r) => !r.pending)) break;
    await sleep(100);
  }
  const calls = t.slack.calls().slice(callsBefore);
  const refused = calls.filter((c) => !c.ok && c.status !== 429);
  const live = rows.find((r) => r.slot === "live")?.message;
  const [, , channel, ts] = live?.split(":") ?? [];
  const last = channel && ts ? t.slack.message(channel, ts)?.edits.at(-1) : undefined;
  const pending = rows.filter((r) => r.pending).length;
  return (
    `${calls.length} Slack calls, ${refused.length} refused${refused[0] ? ` (first: ${refused[0].method} ${refused[0].error})` : ""}` +
    `${pending ? `, ${pending} message(s) still undelivered after ${waitMs / 1000} s` : ""}; ` +
    `live message's last edit: ${last ? `${last.text.length} chars of text, ${last.blocks.length} blocks, ${JSON.stringify(last.blocks).length} bytes of blocks` : "none"}`
  );
}

// ---------------------------------------------------------------------------------------------
// raw ssh2: the floor under testum on this machine

export type Ssh2Client = InstanceType<typeof ssh2.Client>;

export function rawConnect(h: SshHost): Promise<Ssh2Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on("ready", () => {
      // As testum does (deps.md P12): no Nagle delay on execs over an open connection.
      (c as unknown as { _sock?: { setNoDelay?: (v: boolean) => void } })._sock?.setNoDelay?.(true);
      resolve(c);
    });
    c.on("error", reject);
    c.connect(h.connectConfig());
  });
}

export function rawExec(c: Ssh2Client, command: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, channel) => {
      if (err) return reject(err);
      // Listeners go on in this callback: the exit status may arrive in the same read.
      let code: number | null = null;
      channel.on("exit", (c: number | null) => (code = c));
      channel.on("data", () => {});
      channel.stderr.on("data", () => {});
      channel.on("close", () => resolve(code));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// one N

/**
 * Waits (up to a minute) until the machine is quiet, since anything else running on the same
 * cores skews every figure; returns the cores busy in the last second before the runs.
 */
export async function quietMachine(): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const before = machineBusySeconds();
    await sleep(1000);
    const busy = machineBusySeconds() - before;
    if (busy < 0.25 || Date.now() > deadline) return busy;
    say(`the machine is busy (${busy.toFixed(2)} cores in use); waiting for it to settle…`);
  }
}

// ---------------------------------------------------------------------------------------------

/** Postgres and Redis answer (quickly), or why not: without them testum would only hang. */
export async function unreachableServices(): Promise<string[]> {
  const problems: string[] = [];
  const pg = postgres(`${PG_BASE}/postgres`, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await pg`select 1`;
  } catch (err) {
    problems.push(`Postgres at ${PG_BASE}: ${(err as Error).message}`);
  } finally {
    await pg.end({ timeout: 1 }).catch(() => {});
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause: Error | undefined;
  redis.on("error", (err: Error) => (cause ??= err));
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    problems.push(`Redis at ${REDIS_URL}: ${(cause ?? (err as Error)).message}`);
  } finally {
    redis.disconnect();
  }
  return problems;
}
