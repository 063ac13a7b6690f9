// A private redis-server per test, for fault tests (kill it, restart it) without ever touching
// the machine's shared Redis on port 6379. No persistence: a restart starts empty.

import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, onProcessExit } from "./sshd.js";

export interface TestRedisServer {
  /** redis://127.0.0.1:<port> */
  url: string;
  host: "127.0.0.1";
  port: number;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Graceful shutdown (SIGTERM, SIGKILL after 5 s); removes the temp dir. */
  stop(): Promise<void>;
  /** Crash: SIGKILL, resolves once the process is gone. */
  kill(): Promise<void>;
  /**
   * Kills it (SIGKILL) if running, then starts it again on the same port: empty,
   * unless started with persistence (`wipe` then drops what was persisted too).
   */
  restart(options?: { wipe?: boolean }): Promise<void>;
}

// Servers and temp dirs not yet stopped, reaped synchronously if the process exits first.
const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHandlerInstalled = false;

/** Resolves with the first reply line to PING, or undefined if nothing answers. */
function ping(port: number, timeoutMs = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let data = "";
    const done = (v: string | undefined) => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.on("error", () => done(undefined));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      data += d.toString("utf8");
      const nl = data.indexOf("\r\n");
      if (nl >= 0) done(data.slice(0, nl));
    });
  });
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(true);
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** `persistence`: an append-only file, fsynced on every write, so a restart keeps the data. */
export async function startRedisServer(options: { persistence?: boolean | undefined } = {}): Promise<TestRedisServer> {
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    onProcessExit(() => {
      for (const child of live) child.kill("SIGKILL");
      for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
    });
  }
  const port = await freePort();
  let dir: string | undefined;
  let child: ChildProcess | undefined;
  let output = "";

  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const launch = async () => {
    if (!dir) {
      dir = await mkdtemp("/tmp/testum-redis-");
      liveDirs.add(dir);
    }
    output = "";
    const proc = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--daemonize",
        "no",
        "--dir",
        dir,
        ...(options.persistence ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = proc;
    live.add(proc);
    proc.on("exit", () => live.delete(proc));
    const keep = (d: Buffer) => (output = (output + d.toString("utf8")).slice(-4096));
    proc.stdout!.on("data", keep);
    proc.stderr!.on("data", keep);
    // The harness must never keep the test process alive; the exit handler reaps the server.
    proc.unref();
    (proc.stdout as unknown as Socket).unref();
    (proc.stderr as unknown as Socket).unref();
    let spawnError: Error | undefined;
    proc.on("error", (e) => (spawnError = e));
    const deadline = Date.now() + 10_000;
    while (true) {
      if (spawnError || proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`redis-server on port ${port} exited: ${spawnError?.message ?? output.trim()}`);
      }
      if ((await ping(port)) === "+PONG") return;
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`redis-server on port ${port} did not answer PING: ${output.trim()}`);
      }
      await sleep(20);
    }
  };

  const kill = async () => {
    if (!child || !alive()) return;
    child.kill("SIGKILL");
    await waitExit(child, 5000);
  };

  const stop = async () => {
    if (child && alive()) {
      child.kill("SIGTERM");
      if (!(await waitExit(child, 5000))) await kill();
    }
    if (dir) {
      await rm(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    }
    dir = undefined;
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    get pid() {
      return alive() ? child?.pid : undefined;
    },
    get running() {
      return alive();
    },
    stop,
    kill,
    restart: async (opts = {}) => {
      if (alive()) await kill();
      if (opts.wipe && dir) {
        await rm(dir, { recursive: true, force: true });
        liveDirs.delete(dir);
        dir = undefined;
      }
      await launch();
    },
  };
}
