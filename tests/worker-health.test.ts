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
let worker: ChildProcess;
let port: number;
let dataDir: string;
let output = "";

beforeAll(async () => {
  [db, redis, port, dataDir] = await Promise.all([createTestDatabase(), startRedisServer(), freePort(), mkdtemp(join(tmpdir(), "testum-worker-"))]);
  // `testum worker` as production runs it: its own process, health on WORKER_PORT.
  worker = spawn(process.execPath, ["bin/testum.js", "worker"], {
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
  worker.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  worker.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  await eventually("the worker to start", () => output.includes("worker is running"), 30_000);
});

afterAll(async () => {
  if (worker && worker.exitCode === null) worker.kill("SIGKILL");
  await redis?.stop();
  await db?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const get = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${port}${path}`, init);

describe("testum worker", () => {
  it("answers /healthz and /readyz on WORKER_PORT, and says so in its start line", async () => {
    expect(output).toContain(`health on port ${port}`);
    const health = await get("/healthz");
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok\n");
    const ready = await get("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ postgres: "ok", redis: "ok", logs: "ok" });
    expect((await get("/logs/abc")).status).toBe(404);
    expect((await get("/readyz", { method: "POST" })).status).toBe(405);
  });

  it("is not ready while Redis is away, and ready again when it is back", async () => {
    await redis.kill();
    const down = await eventually("/readyz to fail", async () => {
      const res = await get("/readyz");
      return res.status === 503 ? ((await res.json()) as Record<string, string>) : undefined;
    });
    expect(down.postgres).toBe("ok");
    expect(down.redis).not.toBe("ok");
    expect((await get("/healthz")).status).toBe(200);
    await redis.restart();
    await eventually("/readyz to pass again", async () => (await get("/readyz")).status === 200, 30_000);
  });

  it("stops on SIGTERM with exit code 0", async () => {
    const exited = new Promise<number | null>((resolve) => worker.once("exit", (code) => resolve(code)));
    worker.kill("SIGTERM");
    expect(await exited).toBe(0);
    await expect(get("/healthz")).rejects.toThrow();
  });
});
