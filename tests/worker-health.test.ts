import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "./helpers/db.js";
import { startRedisServer, type TestRedisServer } from "./helpers/redis-server.js";
import { freePort } from "./helpers/sshd.js";
import { eventually, TEST_MASTER_KEY } from "./helpers/testum.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let redis: TestRedisServer;
let dataDir: string;
const workers: ChildProcess[] = [];

interface Worker {
  readonly proc: ChildProcess;
  readonly port: number;
  output(): string;
}

/** `testum worker` as production runs it: its own process, health on WORKER_PORT. */
async function startWorker(): Promise<Worker> {
  const port = await freePort();
  const proc = spawn(process.execPath, ["bin/testum.js", "worker"], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      TESTUM_MASTER_KEY: TEST_MASTER_KEY,
      TESTUM_DATA_DIR: dataDir,
      WORKER_PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  workers.push(proc);
  let output = "";
  proc.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  await eventually("the worker to start", () => output.includes("worker is running"), 30_000);
  return { proc, port, output: () => output };
}

beforeAll(async () => {
  [db, redis, dataDir] = await Promise.all([createTestDatabase(), startRedisServer(), mkdtemp(join(tmpdir(), "testum-worker-"))]);
});

afterAll(async () => {
  for (const proc of workers) if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  await redis?.stop();
  await db?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const get = (port: number, path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${port}${path}`, init);

describe("testum worker", () => {
  it("answers /healthz and /readyz on WORKER_PORT, says so in its start line, and stops on SIGTERM with exit code 0", async () => {
    const worker = await startWorker();
    expect(worker.output()).toContain(`health on port ${worker.port}`);
    const health = await get(worker.port, "/healthz");
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok\n");
    const ready = await get(worker.port, "/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ postgres: "ok", redis: "ok", logs: "ok" });
    expect((await get(worker.port, "/logs/abc")).status).toBe(404);
    expect((await get(worker.port, "/readyz", { method: "POST" })).status).toBe(405);

    const exited = new Promise<number | null>((resolve) => worker.proc.once("exit", (code) => resolve(code)));
    worker.proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    await expect(get(worker.port, "/healthz")).rejects.toThrow();
  });

  it("is not ready while Redis is away, and ready again when it is back", async () => {
    const worker = await startWorker();
    await redis.kill();
    const down = await eventually("/readyz to fail", async () => {
      const res = await get(worker.port, "/readyz");
      return res.status === 503 ? ((await res.json()) as Record<string, string>) : undefined;
    });
    expect(down.postgres).toBe("ok");
    expect(down.redis).not.toBe("ok");
    expect((await get(worker.port, "/healthz")).status).toBe(200);
    await redis.restart();
    await eventually("/readyz to pass again", async () => (await get(worker.port, "/readyz")).status === 200, 30_000);
  });
});
