import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChatPlatform } from "../../src/adapters/platform.js";
import { loadConfig, type Config } from "../../src/config.js";
import { connect, type Sql } from "../../src/core/db.js";
import type { Logger } from "../../src/core/ports.js";
import { createLogger } from "../../src/logger.js";
import { startTestum, type RunOptions, type Running } from "../../src/runtime.js";
import { createTestDatabase } from "./db.js";
import { freePort } from "./sshd.js";

export interface TestumUnderTest {
  readonly url: string;
  readonly config: Config;
  readonly env: Record<string, string>;
  /** A connection of the test's own, for assertions. */
  readonly sql: Sql;
  readonly running: Running;
  readonly queuePrefix: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra environment (SLACK_*, DISCORD_*, S3_*, TESTUM_ADMINS …). */
  readonly env?: Record<string, string>;
  readonly serve?: boolean;
  readonly work?: boolean;
  readonly runOptions?: Partial<Omit<RunOptions, "log" | "serve" | "work">>;
  /** Reuse a database (e.g. for a second process); otherwise a fresh one is made. */
  readonly databaseUrl?: string;
  readonly dataDir?: string;
  readonly queuePrefix?: string;
  /** Collects testum's log lines (at debug level) here instead of discarding them. */
  readonly logLines?: string[];
  /**
   * Runs `testum start` as a process of its own, as it is deployed, instead
   * of in this process (for benchmarks: the fakes and the load they make then
   * share no event loop with testum). `"split"` runs the web side
   * (`testum serve`) and the worker (`testum worker`) as two processes, as
   * docker-compose.yml deploys them. `running` is not available then.
   */
  readonly child?: boolean | "split";
  /** The chat platforms, instead of src/adapters/platforms.ts's list (a test plugs one in). */
  readonly platforms?: readonly ChatPlatform[];
}

export const TEST_MASTER_KEY = Buffer.alloc(32, 7).toString("base64");

export function quietLogger(): Logger {
  return createLogger(process.env.TESTUM_TEST_LOG ?? "silent");
}

/**
 * Starts a real testum (web side and/or worker) in this process against a
 * fresh database, the machine's Redis with a private queue prefix, and
 * whatever fakes the env points at.
 */
export async function startTestumForTest(options: StartOptions = {}): Promise<TestumUnderTest> {
  const db = options.databaseUrl ? undefined : await createTestDatabase();
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "testum-data-")));
  const queuePrefix = options.queuePrefix ?? `testum-test-${randomBytes(4).toString("hex")}`;
  const port = await freePort();
  const env: Record<string, string> = {
    DATABASE_URL: options.databaseUrl ?? db!.url,
    REDIS_URL: "redis://127.0.0.1:6379",
    PORT: String(port),
    // A worker-only process serves its health checks here; 0 takes any free port.
    WORKER_PORT: "0",
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    HOST: "127.0.0.1",
    TESTUM_DATA_DIR: dataDir,
    TESTUM_MASTER_KEY: TEST_MASTER_KEY,
    LOG_LEVEL: "silent",
    TESTUM_REDIS_PREFIX: queuePrefix,
    // Many testums share the machine's PostgreSQL: their pools open connections as they need them.
    DATABASE_WARM_CONNECTIONS: "0",
    ...options.env,
  };
  const config = loadConfig(env, options.platforms ? { platforms: options.platforms } : {});
  const cleanup = async () => {
    if (db) await db.drop();
    if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
  };
  if (options.child) return underTest(env, config, queuePrefix, await startChild(env, options.child === "split" ? ["serve", "worker"] : ["start"]), cleanup);
  const running = await startTestum(config, {
    serve: options.serve ?? true,
    work: options.work ?? true,
    log: options.logLines ? createLogger("debug", { destination: { write: (line: string) => void options.logLines!.push(line) } }) : quietLogger(),
    ...options.runOptions,
  });
  const url = running.port === undefined ? "" : `http://127.0.0.1:${running.port}`;
  return underTest(env, config, queuePrefix, { url, running, stop: () => running.stop() }, cleanup);
}

/** A started testum, in this process or a child, as a test sees it. */
interface Started {
  readonly url: string;
  readonly running: Running;
  stop(): Promise<void>;
}

function underTest(env: Record<string, string>, config: Config, queuePrefix: string, started: Started, cleanup: () => Promise<void>): TestumUnderTest {
  const sql = connect(env.DATABASE_URL!, { max: 2 });
  return {
    url: started.url,
    config,
    env,
    sql,
    running: started.running,
    queuePrefix,
    async stop() {
      await started.stop();
      await sql.end({ timeout: 5 });
      await cleanup();
    },
  };
}

/** `testum start` (or each of `verbs`) in a child process with `env`, once testum answers /readyz. */
async function startChild(env: Record<string, string>, verbs: readonly string[]): Promise<Started> {
  const children = verbs.map((verb) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL("../../bin/testum.js", import.meta.url)), verb], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "ignore", "inherit"],
    });
    return { child, exited: new Promise<void>((resolve) => child.once("exit", () => resolve())) };
  });
  const url = `http://127.0.0.1:${env.PORT}`;
  await eventually("testum to answer /readyz", async () => children.every((c) => c.child.exitCode === null) && (await fetch(`${url}/readyz`)).ok, 60_000);
  const running = new Proxy({} as Running, {
    get: () => {
      throw new Error("testum runs in a child process: `running` is not available");
    },
  });
  return {
    url,
    running,
    async stop() {
      await Promise.all(
        children.map(async ({ child, exited }) => {
          child.kill("SIGTERM");
          const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
          await exited;
          clearTimeout(killer);
        }),
      );
    },
  };
}

/** Polls until `check` returns a value (not undefined/false/null), or fails with `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
