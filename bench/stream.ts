// Streaming benchmark: one host prints N MB; how fast testum takes it from the enqueue until the
// job has ended with its log stored, against bare ssh2 reading the same output to /dev/null on
// the same host, and how much testum's memory grows meanwhile.
//
//   npx tsx bench/stream.ts [MB] [--runs R] [--command 'CMD'] [--only testum|bare] [--smoke]
//   (default 200 MB, 2 runs each; needs root, Postgres and Redis; --only runs one side, e.g. to
//   profile testum with `npx tsx --cpu-prof bench/stream.ts --only testum`)
//
// The output is `head -c N /dev/zero | tr '\0' a | fold -w 99` (lines of 99 characters) unless
// --command gives another. Each run of testum is a job on a warm connection (a small job runs
// first, so the connection and its shell session are pooled and the code is compiled), through
// a worker in this process with a local log store, a database, a Redis prefix and a fake Slack
// of its own; each run of bare ssh2 is an exec on an open connection that discards the bytes.
// Runs alternate (bare, testum, bare, testum …) so a load change on the machine hits both.
//
// What the figures mean:
//   - s: testum from just before the enqueue until the bench sees the job ended with the log's
//     key and size recorded (polled every 20 ms); bare ssh2 from the exec until the channel closed.
//   - MB/s: bytes the host printed (the same count for both: the stored log is checked) ÷ s.
//   - CPU s: this process (testum's worker, or ssh2) user + system over the same window.
//   - RSS growth: the highest resident set size seen during the run (sampled every 100 ms) minus
//     the one just before it.
//   - machine CPU s: busy time of both cores from /proc/stat: the host's sshd, head, tr and fold
//     run on the same cores.

import { mkdtemp, rm, stat } from "node:fs/promises";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { Job, Task } from "../src/core/jobs/jobs.js";
import { requestJob } from "../src/core/jobs/lifecycle.js";
import type { Host } from "../src/core/hosts/hosts.js";
import { ensureTestUser } from "../tests/helpers/sshd.js";
import { startFleet } from "./fleet.js";
import {
  type BenchTestum,
  Cleanup,
  CONVERSATION,
  cleanups,
  machineBusySeconds,
  quietMachine,
  rawConnect,
  type Ssh2Client,
  say,
  PUBLIC_URL,
  startBenchTestum,
  unreachableServices,
} from "./support.js";

const POLL_MS = 20;
const RSS_SAMPLE_MS = 100;
const JOB_TIMEOUT_MS = 15 * 60_000;

interface Run {
  readonly tool: "testum" | "bare ssh2";
  readonly wallS: number;
  readonly cpuS: number;
  readonly machineCpuS: number;
  readonly bytes: number;
  readonly rssGrowthMb: number;
  readonly note?: string;
}

const commandFor = (mb: number) => `head -c ${Math.round(mb * 1_000_000)} /dev/zero | tr '\\0' a | fold -w 99`;

/** Samples this process's RSS until stopped; returns the peak growth over the first sample, in MB. */
function rssSampler(): { stop(): number } {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, RSS_SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      return (peak - base) / 1024 / 1024;
    },
  };
}

async function measure(tool: Run["tool"], work: () => Promise<{ bytes: number; note?: string }>): Promise<Run> {
  // A collection first (when the bench runs with --expose-gc), so garbage of the run before is not counted.
  (globalThis as { gc?: () => void }).gc?.();
  const rss = rssSampler();
  const machine0 = machineBusySeconds();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { bytes, note } = await work();
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { tool, wallS, cpuS: (cpu.user + cpu.system) / 1e6, machineCpuS: machineBusySeconds() - machine0, bytes, rssGrowthMb: rss.stop(), ...(note ? { note } : {}) };
}

/** Bare ssh2: an exec on an open connection, every byte read and dropped. */
function bareRun(conn: Ssh2Client, command: string): Promise<{ bytes: number; note?: string }> {
  return new Promise((resolve, reject) => {
    conn.exec(command, (err, channel) => {
      if (err) return reject(err);
      let bytes = 0;
      let code: number | null = null;
      channel.on("exit", (c: number | null) => (code = c));
      channel.on("data", (chunk: Buffer) => (bytes += chunk.length));
      channel.stderr.on("data", (chunk: Buffer) => (bytes += chunk.length));
      channel.on("close", () => resolve({ bytes, ...(code === 0 ? {} : { note: `exit ${code}` }) }));
    });
  });
}

/** One job for `command` on `host`, posted to chat as the run handler does, timed until it has ended with its log stored. */
async function testumRun(t: BenchTestum, host: Host, command: string): Promise<{ bytes: number; note?: string }> {
  const job = await requestJob(
    t.sql,
    {
      command,
      target: host.name,
      hosts: [{ id: host.id, name: host.name }],
      requestedBy: "local:bench",
      requestedByName: "bench",
      conversation: CONVERSATION,
      timeoutMs: JOB_TIMEOUT_MS,
      options: {},
    },
    undefined,
    PUBLIC_URL,
  );
  await t.enqueue(job.id);
  const deadline = performance.now() + JOB_TIMEOUT_MS + 60_000;
  for (;;) {
    const [row] = await t.sql<Pick<Job, "status" | "finishedAt">[]>`select status, finished_at from jobs where id = ${job.id}`;
    if (row?.finishedAt) break;
    if (performance.now() > deadline) throw new Error(`job #${job.id} did not end in time`);
    await sleep(POLL_MS);
  }
  const [task] = await t.sql<Task[]>`select * from job_tasks where job_id = ${job.id}`;
  if (!task) throw new Error(`job #${job.id} has no task`);
  const bytes = Number(task.logBytes ?? 0);
  let note: string | undefined;
  if (task.status !== "succeeded") note = `${task.status}: ${task.error ?? ""}`.slice(0, 200);
  else if (!task.logKey) note = "no log stored";
  else {
    const stored = await stat(join(t.dataDir, "logs", task.logKey)).catch(() => undefined);
    if (stored?.size !== bytes) note = `stored log is ${stored?.size ?? "missing"} bytes, recorded ${bytes}`;
  }
  return { bytes, ...(note ? { note } : {}) };
}

const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
const mbps = (r: Run) => r.bytes / 1e6 / r.wallS;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let runs = 2;
  let command: string | undefined;
  let mb = 200;
  let only: string | undefined;
  // --smoke: checks that everything runs (CI): no waiting for a quiet machine, and any failed run fails the bench.
  const smoke = args.includes("--smoke");
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--runs") runs = Number(args[++i]);
    else if (a === "--command") command = args[++i];
    else if (a === "--only") only = args[++i];
    else if (a === "--smoke") continue;
    else mb = Number(a);
  }
  if (!(mb > 0) || !Number.isInteger(runs) || runs < 1 || (command !== undefined && command.trim() === "") || (only !== undefined && only !== "testum" && only !== "bare")) {
    say("usage: npx tsx bench/stream.ts [MB] [--runs R] [--command 'CMD'] [--only testum|bare] [--smoke]   (default 200 MB, 2 runs)");
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    say("the benchmark needs root: it starts an sshd test host and creates its login user");
    process.exit(2);
  }
  const missing = await unreachableServices();
  if (missing.length) {
    say(`the benchmark needs Postgres and Redis on this machine: ${missing.join("; ")}`);
    process.exit(2);
  }
  await ensureTestUser();
  const cmd = command ?? commandFor(mb);
  const cleanup = new Cleanup();
  cleanups.add(cleanup);
  const results: Run[] = [];
  const details: string[] = [];
  try {
    const tmp = await mkdtemp(join(tmpdir(), "testum-bench-"));
    cleanup.add(`temp dir ${tmp}`, () => rm(tmp, { recursive: true, force: true }));
    say("starting an sshd host…");
    const fleet = await startFleet(1, cleanup, "stream");
    const sshHost = fleet.hosts[0]!;
    say("starting testum…");
    const t = await startBenchTestum(1, fleet.hosts, fleet.warmup, fleet.clientPrivateKey, cleanup, tmp);
    const host = t.hosts[0]!;
    // Warms the pooled connection, its shell session and the code paths up.
    const warm = await testumRun(t, host, commandFor(2));
    if (warm.note) throw new Error(`the warm-up job failed: ${warm.note} ${t.logLines.slice(-3).join(" ")}`);
    const bare = await rawConnect(sshHost);
    cleanup.add("bare ssh2 connection", () => void bare.end());
    await bareRun(bare, commandFor(2));

    const background = smoke ? 0 : await quietMachine();
    if (background >= 0.25) details.push(`WARNING: ${background.toFixed(2)} cores were busy with something else just before the runs; the figures are skewed`);
    for (let i = 0; i < runs; i++) {
      if (only !== "testum") {
        say(`run ${i + 1}/${runs}: bare ssh2…`);
        results.push(await measure("bare ssh2", () => bareRun(bare, cmd)));
      }
      if (only !== "bare") {
        say(`run ${i + 1}/${runs}: testum…`);
        results.push(await measure("testum", () => testumRun(t, host, cmd)));
      }
    }
    const problems = t.logLines.filter((l) => /"level":(40|50|60)/.test(l));
    if (problems.length) details.push(`testum logged ${problems.length} warnings/errors, first: ${problems[0]!.slice(0, 300)}`);
  } catch (err) {
    details.push(`ERROR: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  } finally {
    say("cleaning up…");
    await cleanup.runAll();
    cleanups.delete(cleanup);
  }

  const lines: string[] = [];
  lines.push("# testum streaming benchmark", "");
  lines.push(`Node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB; command: \`${cmd}\``, "");
  lines.push("| run | tool | s | MB/s | CPU s | machine CPU s | RSS growth MB | bytes |");
  lines.push("|---:|---|---:|---:|---:|---:|---:|---:|");
  results.forEach((r, i) => {
    lines.push(
      `| ${only ? i + 1 : Math.floor(i / 2) + 1} | ${r.tool} | ${fmt(r.wallS)} | ${fmt(mbps(r), 1)} | ${fmt(r.cpuS)} | ${fmt(r.machineCpuS)} | ${fmt(r.rssGrowthMb, 1)} | ${r.bytes}${r.note ? ` (${r.note})` : ""} |`,
    );
  });
  const best = (tool: Run["tool"]) => results.filter((r) => r.tool === tool && !r.note).sort((a, b) => a.wallS - b.wallS)[0];
  const tb = best("testum");
  const bb = best("bare ssh2");
  lines.push("");
  if (tb && bb) {
    const ratio = mbps(tb) / mbps(bb);
    const rss = Math.max(...results.filter((r) => r.tool === "testum").map((r) => r.rssGrowthMb));
    lines.push(`Best runs: testum ${fmt(mbps(tb), 1)} MB/s, bare ssh2 ${fmt(mbps(bb), 1)} MB/s: ratio ${ratio.toFixed(2)}× (goal ≥ 0.8×: ${ratio >= 0.8 ? "HOLDS" : "FAILS"})`);
    lines.push(`testum RSS growth, largest: ${fmt(rss, 1)} MB (goal ≤ 64 MB: ${rss <= 64 ? "HOLDS" : "FAILS"})`);
    const mismatched = results.filter((r) => r.tool === "testum" && r.bytes !== bb.bytes);
    if (mismatched.length) lines.push(`MISMATCH: testum stored ${mismatched.map((r) => r.bytes).join(", ")} bytes, the host printed ${bb.bytes}`);
  } else lines.push("No successful run of each to compare.");
  for (const d of details) lines.push(`- ${d}`);
  process.stdout.write(lines.join("\n") + "\n");
  const stored = bb ? results.filter((r) => r.tool === "testum").every((r) => r.bytes === bb.bytes) : false;
  if (smoke && (results.some((r) => r.note) || !tb || !bb || !stored)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  say(`bench failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
