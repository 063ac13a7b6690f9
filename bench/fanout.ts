// Fan-out benchmark: `true` on N local OpenSSH hosts through testum,
// from enqueue to the last result, against parallel-ssh and `ansible -m raw` on the same hosts.
//
//   npx tsx bench/fanout.ts [N ...] [--without-others] [--smoke]   (default: 10 50 100; needs root, Postgres
//   and Redis; --without-others leaves parallel-ssh and ansible out: neither installed nor run;
//   --smoke only checks that everything runs, as CI does)
//
// For each N it starts N sshd hosts (plus one for warming testum up), a testum worker in this
// process with a database, a Redis prefix and a fake Slack of its own, and measures:
//   - testum COLD: the first job on the N hosts, so every host needs a new SSH connection;
//   - testum WARM: two more jobs right after, over the pooled connections;
//   - raw ssh2 in this process (new connections, then the same ones twice): the floor under
//     testum on these hosts, so testum's own cost and the most that reusing connections can
//     gain here are both visible;
//   - parallel-ssh and ansible, each one run, with the same key, user and parallelism.
// Everything it starts or creates is removed at the end, also on error or Ctrl-C.
//
// What the figures mean:
//   - wall s: testum from just before the enqueue to the moment the bench sees every task
//     row final (polled every 5 ms); the other tools from spawn to exit.
//   - CPU s: testum is this process's process.cpuUsage() delta over the same window (the
//     worker runs here; the 5 ms poll and the fake Slack add a little, measured separately
//     as "bench overhead"); raw ssh2 likewise; the other tools are measured by GNU time
//     (wait4 rusage: the child and every descendant it waited for, i.e. all the ssh clients).
//   - machine CPU s: busy time of all cores from /proc/stat over the same window, sshd side
//     included: on 2 cores the hosts' sshd usually costs more than any client.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { MAX_CONNECTING } from "../src/adapters/ssh/pool.js";
import { Semaphore } from "../src/core/concurrency.js";
import type { Host } from "../src/core/hosts.js";
import type { Job, Task } from "../src/core/jobs.js";
import { requestJob } from "../src/core/jobs/lifecycle.js";
import { ensureTestUser, SSH_TEST_USER, startSshHosts, type SshHost } from "../tests/helpers/sshd.js";
import {
  type BenchTestum,
  Cleanup,
  CONVERSATION,
  cleanups,
  isInterrupted,
  machineBusySeconds,
  quietMachine,
  rawConnect,
  rawExec,
  type Ssh2Client,
  say,
  chatReport,
  PUBLIC_URL,
  startBenchTestum,
  unreachableServices,
} from "./support.js";

const PSSH = "/usr/bin/parallel-ssh";
const ANSIBLE = "/usr/bin/ansible";
const GNU_TIME = "/usr/bin/time";
const POLL_MS = 5;
/** --smoke: checks that everything runs (CI): no waiting for a quiet machine, and a host that fails fails the bench. */
let smoke = false;
/** Longest a single measured run may take before the bench gives up on it. */
const RUN_DEADLINE_MS = 180_000;
const JOB_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// tools

interface Tools {
  readonly pssh: string | undefined;
  readonly ansible: string | undefined;
  /** How child CPU is measured. */
  readonly cpuMethod: "gnu-time" | "bash-times";
  readonly notes: string[];
}

function runInherited(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number | null> {
  return new Promise((resolve) => {
    // stdout goes to stderr too: the tables on stdout stay clean.
    const child = spawn(cmd, args, { stdio: ["ignore", 2, 2], env });
    child.on("error", () => resolve(null));
    child.on("close", (code) => resolve(code));
  });
}

/** Installs pssh, ansible and GNU time from Debian's packages when missing; a tool still missing is skipped. */
async function ensureTools(withOthers: boolean): Promise<Tools> {
  const notes: string[] = [];
  const wanted: Array<[string, string]> = [
    ...(withOthers
      ? ([
          ["pssh", PSSH],
          ["ansible", ANSIBLE],
        ] as Array<[string, string]>)
      : []),
    ["time", GNU_TIME],
  ];
  const missing = wanted.filter(([, bin]) => !existsSync(bin)).map(([pkg]) => pkg);
  if (missing.length > 0) {
    // Only root gets here (main checks): the sshd test hosts need root anyway.
    if (!existsSync("/usr/bin/apt-get")) {
      say(`no apt-get: cannot install ${missing.join(", ")}; the comparisons that need them are skipped`);
    } else {
      say(`installing ${missing.join(", ")} with apt-get (apt-get update, then apt-get install -y ${missing.join(" ")})…`);
      const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
      const updated = await runInherited("apt-get", ["update"], env);
      if (updated !== 0) say(`apt-get update exited ${updated}; trying the install anyway`);
      const installed = await runInherited("apt-get", ["install", "-y", ...missing], env);
      if (installed !== 0) say(`apt-get install exited ${installed}`);
    }
  }
  const pssh = withOthers && existsSync(PSSH) ? PSSH : undefined;
  const ansible = withOthers && existsSync(ANSIBLE) ? ANSIBLE : undefined;
  if (!pssh) notes.push(`parallel-ssh: skipped (${withOthers ? "package pssh is not installed" : "--without-others"})`);
  if (!ansible) notes.push(`ansible: skipped (${withOthers ? "package ansible is not installed" : "--without-others"})`);
  return { pssh, ansible, cpuMethod: existsSync(GNU_TIME) ? "gnu-time" : "bash-times", notes };
}

interface ChildRun {
  readonly wallS: number;
  readonly cpuS: number;
  readonly machineCpuS: number;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command and measures its wall time here and its CPU (user + system of the child and
 * of every descendant it waited for) with GNU time, or with bash's `times` when there is none.
 */
async function runTimed(tools: Tools, cmd: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd: string }): Promise<ChildRun> {
  const timeFile = join(options.cwd, `time-${randomBytes(4).toString("hex")}.txt`);
  const [bin, argv] =
    tools.cpuMethod === "gnu-time"
      ? [GNU_TIME, ["-f", "%e %U %S", "-o", timeFile, cmd, ...args]]
      : ["/bin/bash", ["-c", `"$@"; rc=$?; times > ${timeFile}; exit $rc`, "timed", cmd, ...args]];
  const machine0 = machineBusySeconds();
  const t0 = performance.now();
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(bin, argv, { stdio: ["ignore", "pipe", "pipe"], env: options.env, cwd: options.cwd });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  const wallS = (performance.now() - t0) / 1000;
  const machineCpuS = machineBusySeconds() - machine0;
  const text = (await readFile(timeFile, "utf8").catch(() => "")).trim();
  await rm(timeFile, { force: true });
  let cpuS = Number.NaN;
  if (tools.cpuMethod === "gnu-time") {
    // A failing command adds a "Command exited with non-zero status" line before the figures.
    const fields = (text.split("\n").pop() ?? "").trim().split(/\s+/).map(Number);
    if (fields.length === 3) cpuS = fields[1]! + fields[2]!;
  } else {
    // `times`: the shell's own user/sys, then its children's, as 0m1.234s 0m0.567s.
    const children = text.split("\n")[1] ?? "";
    const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    if (secs.length === 2) cpuS = secs[0]! + secs[1]!;
  }
  return { ...result, wallS, cpuS, machineCpuS };
}

// ---------------------------------------------------------------------------------------------
// results

interface Row {
  readonly tool: string;
  readonly wallS: number;
  readonly cpuS: number;
  readonly machineCpuS: number;
  /** Hosts that ran `true` successfully, of N. */
  readonly ok: number;
  readonly note?: string;
  /** testum only: this process's highest resident set size during the job (until the worker was done), MB. */
  readonly peakRssMb?: number;
}

interface Outcome {
  readonly n: number;
  readonly rows: Row[];
  readonly cold?: Row;
  readonly warm: Row[];
  readonly rawCold?: Row;
  readonly rawWarm: Row[];
  readonly pssh?: Row;
  readonly ansible?: Row;
  readonly details: string[];
}

const fmt = (v: number | undefined, digits = 3) => (v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(digits));
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !(b > 0) ? undefined : a / b);
const times = (r: number | undefined) => (r === undefined ? "–" : `${r.toFixed(1)}×`);
const times2 = (r: number | undefined) => (r === undefined ? "–" : `${r.toFixed(2)}×`);
const meanWall = (rows: readonly Row[]) => (rows.length ? rows.reduce((sum, r) => sum + r.wallS, 0) / rows.length : undefined);

function printOutcome(o: Outcome): void {
  const lines: string[] = [];
  lines.push(`\n## N = ${o.n} hosts, \`true\` on each`);
  lines.push("");
  lines.push("| tool | wall s | CPU s | machine CPU s | ok |");
  lines.push("|---|---:|---:|---:|---:|");
  for (const r of o.rows) lines.push(`| ${r.tool} | ${fmt(r.wallS)} | ${fmt(r.cpuS)} | ${fmt(r.machineCpuS, 2)} | ${r.ok}/${o.n}${r.note ? ` ${r.note}` : ""} |`);
  lines.push("");
  const worstWarm = o.warm.length ? o.warm.reduce((a, b) => (b.wallS > a.wallS ? b : a)) : undefined;
  const bestWarm = o.warm.length ? o.warm.reduce((a, b) => (b.wallS < a.wallS ? b : a)) : undefined;
  const cold = o.cold;
  lines.push("Ratios (how many times faster / less CPU):");
  lines.push(`- parallel-ssh ÷ testum cold: wall ${times(ratio(o.pssh?.wallS, cold?.wallS))}, CPU ${times(ratio(o.pssh?.cpuS, cold?.cpuS))}`);
  lines.push(
    `- testum cold ÷ testum warm: wall ${times(ratio(cold?.wallS, worstWarm?.wallS))} (slower warm run) / ${times(ratio(cold?.wallS, bestWarm?.wallS))} (faster), CPU ${times(ratio(cold?.cpuS, worstWarm?.cpuS))}`,
  );
  lines.push(
    `- ansible ÷ testum cold: wall ${times(ratio(o.ansible?.wallS, cold?.wallS))}, CPU ${times(ratio(o.ansible?.cpuS, cold?.cpuS))}; ansible ÷ testum warm: wall ${times(ratio(o.ansible?.wallS, worstWarm?.wallS))}`,
  );
  const rawWorstWarm = o.rawWarm.length ? o.rawWarm.reduce((a, b) => (b.wallS > a.wallS ? b : a)) : undefined;
  if (o.rawCold && rawWorstWarm) {
    lines.push(`- raw ssh2 cold ÷ raw ssh2 warm (the most any client gets from reusing connections on these hosts): wall ${times(ratio(o.rawCold.wallS, rawWorstWarm.wallS))}`);
    const over = (t: Row | undefined, r: Row) => (t ? `+${fmt(t.wallS - r.wallS)} s (${times(ratio(t.wallS, r.wallS))} raw)` : "–");
    lines.push(`- testum's own cost over raw ssh2: cold ${over(cold, o.rawCold)}, warm ${over(worstWarm, rawWorstWarm)}`);
  }
  const coldRatio = ratio(cold?.wallS, o.rawCold?.wallS);
  const warmRatio = ratio(meanWall(o.warm), meanWall(o.rawWarm));
  lines.push("");
  lines.push("Goals:");
  // A run with hosts that did not succeed still says how fast it was, but the verdict says so.
  const caveat = (runs: Array<Row | undefined>) => {
    const short = runs.filter((r): r is Row => r !== undefined && r.ok !== o.n);
    return short.length ? `; CAVEAT: ${short.map((r) => `${r.tool} had ${r.ok}/${o.n} hosts succeed`).join(", ")}` : "";
  };
  if (cold && o.pssh) {
    const holds = cold.wallS < o.pssh.wallS;
    lines.push(`- cold faster than parallel-ssh: ${holds ? "HOLDS" : "FAILS"} (${fmt(cold.wallS)} s vs ${fmt(o.pssh.wallS)} s${caveat([cold, o.pssh])})`);
  } else {
    lines.push("- cold faster than parallel-ssh: not measured (a run is missing)");
  }
  if (cold && worstWarm) {
    const r = cold.wallS / worstWarm.wallS;
    const ceiling = o.rawCold && o.rawWarm.length ? `; raw ssh2 reaches ${(o.rawCold.wallS / Math.max(...o.rawWarm.map((w) => w.wallS))).toFixed(1)}× on these hosts` : "";
    lines.push(
      `- warm at least 10× faster than cold (every warm run): ${r >= 10 ? "HOLDS" : "FAILS"} (${r.toFixed(1)}×: ${fmt(cold.wallS)} s vs ${fmt(worstWarm.wallS)} s${ceiling}${caveat([cold, ...o.warm])})`,
    );
  } else {
    lines.push("- warm at least 10× faster than cold: not measured (a run is missing)");
  }
  lines.push(
    `- cold within 1.3× of raw ssh2 cold: ${coldRatio === undefined ? "not measured" : `${coldRatio <= 1.3 ? "HOLDS" : "FAILS"} (${coldRatio.toFixed(2)}×: ${fmt(cold?.wallS)} s vs ${fmt(o.rawCold?.wallS)} s${caveat([cold])})`}`,
  );
  lines.push(
    `- warm within 1.5× of raw ssh2 warm (mean of the runs): ${warmRatio === undefined ? "not measured" : `${warmRatio <= 1.5 ? "HOLDS" : "FAILS"} (${warmRatio.toFixed(2)}×: ${fmt(meanWall(o.warm))} s vs ${fmt(meanWall(o.rawWarm))} s${caveat(o.warm)})`}`,
  );
  const peak = Math.max(...[cold, ...o.warm].map((r) => r?.peakRssMb ?? Number.NaN).filter(Number.isFinite));
  if (Number.isFinite(peak))
    lines.push(`- testum's memory under 300 MB: ${peak < 300 ? "HOLDS" : "FAILS"} (highest RSS of this process, worker and bench together: ${peak.toFixed(0)} MB)`);
  if (o.details.length) {
    lines.push("");
    lines.push("Details:");
    for (const d of o.details) lines.push(`- ${d}`);
  }
  process.stdout.write(lines.join("\n") + "\n");
}

function printSummary(outcomes: readonly Outcome[]): void {
  const lines = [
    "\n## Summary (wall s; CPU s in brackets)",
    "",
    "| N | testum cold | testum warm (2nd, 3rd) | raw ssh2 cold | raw ssh2 warm | cold ÷ raw cold (≤ 1.3) | warm ÷ raw warm (≤ 1.5) | testum peak RSS MB | parallel-ssh | ansible | cold < pssh | warm ≥ 10× |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|:-:|",
  ];
  for (const o of outcomes) {
    const cell = (r: Row | undefined) => (r ? `${fmt(r.wallS)} (${fmt(r.cpuS)})` : "–");
    const worstWarm = o.warm.length ? Math.max(...o.warm.map((w) => w.wallS)) : undefined;
    // "*": some host of a run did not succeed (see that N's caveat).
    const mark = (runs: Array<Row | undefined>) => (runs.some((r) => r !== undefined && r.ok !== o.n) ? "*" : "");
    const g1 = o.cold && o.pssh ? `${o.cold.wallS < o.pssh.wallS ? "yes" : "no"}${mark([o.cold, o.pssh])}` : "–";
    const g2 = o.cold && worstWarm !== undefined ? `${o.cold.wallS / worstWarm >= 10 ? "yes" : "no"}${mark([o.cold, ...o.warm])}` : "–";
    const peak = Math.max(...[o.cold, ...o.warm].map((r) => r?.peakRssMb ?? Number.NaN).filter(Number.isFinite));
    lines.push(
      `| ${o.n} | ${cell(o.cold)} | ${o.warm.map(cell).join(", ") || "–"} | ${cell(o.rawCold)} | ${o.rawWarm.map(cell).join(", ") || "–"} | ` +
        `${times2(ratio(o.cold?.wallS, o.rawCold?.wallS))} | ${times2(ratio(meanWall(o.warm), meanWall(o.rawWarm)))} | ${Number.isFinite(peak) ? peak.toFixed(0) : "–"} | ` +
        `${cell(o.pssh)} | ${cell(o.ansible)} | ${g1} | ${g2} |`,
    );
  }
  process.stdout.write(lines.join("\n") + "\n");
}

interface TestumRun {
  readonly row: Row;
  /** What chat saw of the job. */
  readonly chat: string;
  readonly job: Job;
  readonly tasks: Task[];
  readonly enqueuedAt: number;
  /** Enqueue → the worker finished with the job (report written, final chat edits sent). */
  readonly workerDoneS: number;
}

/**
 * One job for `true` on `hosts`, created and published as the run handler does (parent and
 * live message first, outside the measurement), then enqueued and timed to the last result.
 */
async function runTestumJob(t: BenchTestum, label: string, hosts: readonly Host[]): Promise<TestumRun> {
  const n = hosts.length;
  const calls0 = t.slack.calls().length;
  // Recorded as the run handler records it: the job, its tasks and its chat messages (delivered to
  // the fake Slack by testum's delivery loop, as chat allows; a job never waits for chat).
  const job = await requestJob(
    t.sql,
    {
      command: "true",
      target: n === 1 ? hosts[0]!.name : `bench (${n} hosts)`,
      hosts: hosts.map((h) => ({ id: h.id, name: h.name })),
      requestedBy: "local:bench",
      requestedByName: "bench",
      conversation: CONVERSATION,
      timeoutMs: JOB_TIMEOUT_MS,
      options: { parallel: n },
    },
    undefined,
    PUBLIC_URL,
  );

  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
  const machine0 = machineBusySeconds();
  const cpu0 = process.cpuUsage();
  const enqueuedAt = Date.now();
  const t0 = performance.now();
  await t.enqueue(job.id);
  const deadline = t0 + RUN_DEADLINE_MS;
  let tLast: number;
  for (;;) {
    const [row] = await t.sql<{ done: number }[]>`
      select count(*)::int as done from job_tasks where job_id = ${job.id} and status not in ('queued', 'running')`;
    if ((row?.done ?? 0) >= n) {
      tLast = performance.now();
      break;
    }
    if (performance.now() > deadline) throw new Error(`${label}: job #${job.id} did not finish within ${RUN_DEADLINE_MS / 1000} s`);
    await sleep(POLL_MS);
  }
  const cpu = process.cpuUsage(cpu0);
  const machineCpuS = machineBusySeconds() - machine0;

  // The next job starts only when this one is wholly done, so their work does not overlap.
  const bullKey = `${t.prefix}:testum-jobs:job-${job.id}`;
  let workerDoneS = Number.NaN;
  while (performance.now() < deadline) {
    const finishedOn = await t.redis.hget(bullKey, "finishedOn");
    if (finishedOn) {
      workerDoneS = (Number(finishedOn) - enqueuedAt) / 1000;
      break;
    }
    await sleep(POLL_MS);
  }
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  const [ended] = await t.sql<Job[]>`select * from jobs where id = ${job.id}`;
  const tasks = await t.sql<Task[]>`select * from job_tasks where job_id = ${job.id} order by host_name`;
  const ok = tasks.filter((x) => x.status === "succeeded").length;
  const bad = tasks.filter((x) => x.status !== "succeeded");
  const first = bad[0];
  // A task that ran but reports neither exit status nor error: the status never reached testum.
  const silent = bad.filter((x) => x.exitCode === null && x.signal === null && x.errorCode === null).length;
  const note = first
    ? (
        `(${first.hostName}: ${first.status}, exit ${first.exitCode ?? "–"}${first.signal ? ` ${first.signal}` : ""}` +
        `${first.errorCode ? `, ${first.errorCode}` : ""}${first.error ? `: ${first.error}` : ""}${first.tail ? `, output: ${first.tail}` : ""}` +
        `${silent ? `; ${silent} without any exit status` : ""})`
      )
        .replace(/\s+/g, " ")
        .slice(0, 240)
    : undefined;
  return {
    row: { tool: label, wallS: (tLast - t0) / 1000, cpuS: (cpu.user + cpu.system) / 1e6, machineCpuS, ok, peakRssMb: peakRss / 1024 / 1024, ...(note ? { note } : {}) },
    chat: await chatReport(t, job.id, calls0),
    job: ended!,
    tasks,
    enqueuedAt,
    workerDoneS,
  };
}

/** Where the job's time went, from the timestamps the worker wrote (Postgres now(), same clock). */
function phasesOf(run: TestumRun): string {
  const ms = (d: Date | null | undefined) => (d ? d.getTime() : Number.NaN);
  const starts = run.tasks
    .map((x) => ms(x.startedAt))
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  const ends = run.tasks
    .map((x) => ms(x.finishedAt))
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  const durations = run.tasks
    .map((x) => ms(x.finishedAt) - ms(x.startedAt))
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  const claim = ms(run.job.startedAt);
  const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? Number.NaN;
  const r = (v: number) => (Number.isFinite(v) ? String(Math.round(v)) : "–");
  return [
    `${run.row.tool} (job #${run.job.id}), ms from enqueue:`,
    `claimed ${r(claim - run.enqueuedAt)},`,
    `first task started ${r((starts[0] ?? Number.NaN) - run.enqueuedAt)}, last started ${r((starts.at(-1) ?? Number.NaN) - run.enqueuedAt)},`,
    `first task final ${r((ends[0] ?? Number.NaN) - run.enqueuedAt)}, last final ${r((ends.at(-1) ?? Number.NaN) - run.enqueuedAt)},`,
    `job final ${r(ms(run.job.finishedAt) - run.enqueuedAt)}, worker done ${r(run.workerDoneS * 1000)};`,
    `task start→final p50 ${r(q(durations, 0.5))} p90 ${r(q(durations, 0.9))} max ${r(durations.at(-1) ?? Number.NaN)}`,
  ].join(" ");
}

/** CPU this process spends per second on the bench's own 5 ms poll, with testum idle. */
async function pollOverhead(t: BenchTestum, jobId: number): Promise<number> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    await t.sql`select count(*)::int as done from job_tasks where job_id = ${jobId} and status not in ('queued', 'running')`;
    await sleep(POLL_MS);
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1e3 / ((performance.now() - t0) / 1000);
}

/**
 * The same `true` with bare ssh2 in this process, all hosts at once (as many handshakes at once
 * as testum allows): over new connections (cold) and then twice over those same connections (warm). What is left between these and testum's
 * figures is testum's own cost; what they cost themselves is the hosts' (sshd on the same cores).
 */
async function runRawSsh2(hosts: readonly SshHost[]): Promise<Row[]> {
  const rows: Row[] = [];
  const conns: Ssh2Client[] = [];
  try {
    const measure = async (tool: string, work: () => Promise<Array<number | null>>) => {
      const machine0 = machineBusySeconds();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const codes = await work();
      const wallS = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      rows.push({ tool, wallS, cpuS: (cpu.user + cpu.system) / 1e6, machineCpuS: machineBusySeconds() - machine0, ok: codes.filter((c) => c === 0).length });
    };
    // At most as many handshakes at once as testum has (MAX_CONNECTING): with more, on these
    // shared cores, every handshake slows down until all of them pass their time limit.
    const connecting = new Semaphore(MAX_CONNECTING);
    await measure("raw ssh2 cold (new connections)", () =>
      Promise.all(
        hosts.map(async (h) => {
          const release = await connecting.acquire();
          const c = await rawConnect(h).finally(release);
          conns.push(c);
          return rawExec(c, "true");
        }),
      ),
    );
    await measure("raw ssh2 warm (same connections)", () => Promise.all(conns.map((c) => rawExec(c, "true"))));
    await measure("raw ssh2 warm (same connections)", () => Promise.all(conns.map((c) => rawExec(c, "true"))));
  } finally {
    for (const c of conns) c.end();
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// parallel-ssh and ansible

function psshRow(n: number, run: ChildRun): Row {
  const ok = (run.stdout.match(/\[SUCCESS\]/g) ?? []).length;
  const note = run.code === 0 ? undefined : `(exit ${run.code}: ${(run.stdout + run.stderr).trim().split("\n").slice(-2).join(" ").slice(0, 160)})`;
  return { tool: `parallel-ssh -p ${n}`, wallS: run.wallS, cpuS: run.cpuS, machineCpuS: run.machineCpuS, ok, ...(note ? { note } : {}) };
}

function ansibleRow(n: number, run: ChildRun): Row {
  const ok = (run.stdout.match(/ \| (CHANGED|SUCCESS) \| rc=0/g) ?? []).length;
  const note = run.code === 0 ? undefined : `(exit ${run.code}: ${(run.stdout + run.stderr).trim().split("\n").slice(-2).join(" ").slice(0, 160)})`;
  return { tool: `ansible -m raw -f ${n}`, wallS: run.wallS, cpuS: run.cpuS, machineCpuS: run.machineCpuS, ok, ...(note ? { note } : {}) };
}

async function runPssh(tools: Tools, hosts: readonly SshHost[], keyPath: string, dir: string): Promise<ChildRun> {
  const hostsFile = join(dir, "pssh-hosts");
  await writeFile(hostsFile, hosts.map((h) => `127.0.0.1:${h.port}`).join("\n") + "\n");
  const extra = `-i ${keyPath} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes`;
  return runTimed(tools, tools.pssh!, ["-h", hostsFile, "-l", SSH_TEST_USER, "-x", extra, "-p", String(hosts.length), "-t", "60", "true"], {
    env: { ...process.env },
    cwd: dir,
  });
}

async function runAnsible(tools: Tools, hosts: readonly SshHost[], keyPath: string, dir: string): Promise<ChildRun> {
  const inventory = join(dir, "inventory.ini");
  const lines = ["[bench]"];
  for (const h of hosts) lines.push(`${h.name} ansible_host=127.0.0.1 ansible_port=${h.port} ansible_user=${SSH_TEST_USER} ansible_ssh_private_key_file=${keyPath}`);
  lines.push("", "[bench:vars]", "ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null -o BatchMode=yes'");
  await writeFile(inventory, lines.join("\n") + "\n");
  const home = join(dir, "ansible-home");
  return runTimed(tools, tools.ansible!, ["all", "-i", inventory, "-m", "raw", "-a", "true", "-f", String(hosts.length)], {
    cwd: dir,
    env: {
      ...process.env,
      ANSIBLE_HOST_KEY_CHECKING: "False",
      // No ControlPersist: its master processes would outlive the run (CPU unmeasured, left
      // running) and make a second run warm; a fresh connection per host, like parallel-ssh.
      ANSIBLE_SSH_ARGS: "-o ControlMaster=no",
      ANSIBLE_TIMEOUT: "60",
      ANSIBLE_HOME: home,
      ANSIBLE_LOCAL_TEMP: join(home, "tmp"),
      ANSIBLE_CONFIG: join(dir, "no-ansible.cfg"),
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_DEPRECATION_WARNINGS: "False",
    },
  });
}

async function benchOne(n: number, tools: Tools): Promise<Outcome> {
  const cleanup = new Cleanup();
  cleanups.add(cleanup);
  const rows: Row[] = [];
  const details: string[] = [];
  let cold: Row | undefined;
  const warm: Row[] = [];
  let rawCold: Row | undefined;
  const rawWarm: Row[] = [];
  let pssh: Row | undefined;
  let ansible: Row | undefined;
  try {
    const tmp = await mkdtemp(join(tmpdir(), "testum-bench-"));
    cleanup.add(`temp dir ${tmp}`, () => rm(tmp, { recursive: true, force: true }));
    say(`N=${n}: starting ${n + 1} sshd hosts…`);
    // One host more than N, used only to warm testum up: the cold run then measures new SSH
    // connections, not Node compiling testum's code on its first job.
    // Hundreds of hosts make their keys and start at once: on 2 cores that takes minutes, not seconds.
    const set = await startSshHosts(n + 1, { namePrefix: "bench", passwordAuthentication: false, startTimeoutMs: Math.max(30_000, n * 600) });
    cleanup.add("sshd hosts", () => set.stop());
    const sshHosts = set.hosts.slice(0, n);
    const warmupSsh = set.hosts[n]!;

    say(`N=${n}: starting testum…`);
    const t = await startBenchTestum(n, sshHosts, warmupSsh, set.clientPrivateKey, cleanup, tmp);
    const warmup = await runTestumJob(t, "warm-up (1 other host)", [t.warmupHost]);
    if (warmup.row.ok !== 1) throw new Error(`the warm-up job failed: ${warmup.row.note ?? ""} ${t.logLines.slice(-3).join(" ")}`);
    const overheadMs = await pollOverhead(t, warmup.job.id);

    const background = smoke ? 0 : await quietMachine();
    if (background >= 0.25) details.push(`WARNING: ${background.toFixed(2)} cores were busy with something else just before the runs; the figures are skewed`);
    say(`N=${n}: testum cold…`);
    const runs: TestumRun[] = [];
    runs.push(await runTestumJob(t, "testum cold (job 1)", t.hosts));
    say(`N=${n}: testum warm…`);
    runs.push(await runTestumJob(t, "testum warm (job 2)", t.hosts));
    runs.push(await runTestumJob(t, "testum warm (job 3)", t.hosts));
    cold = runs[0]!.row;
    warm.push(runs[1]!.row, runs[2]!.row);
    rows.push(...runs.map((r) => r.row));
    for (const r of runs) details.push(phasesOf(r), `${r.row.tool}: ${r.chat}`);
    const slackCalls = t.slack.calls();
    details.push(
      `bench overhead inside testum's CPU figure: this process, idle but for the 5 ms poll, uses ~${overheadMs.toFixed(1)} ms CPU per second; ` +
        `fake Slack answered ${slackCalls.length} calls in all (${slackCalls.filter((c) => c.status === 429).length} rate-limited)`,
    );
    const problems = t.logLines.filter((l) => /"level":(40|50|60)/.test(l));
    if (problems.length) details.push(`testum logged ${problems.length} warnings/errors, first: ${problems[0]!.slice(0, 300)}`);
    // Stopped before the other tools run: its pooled connections close and take no CPU meanwhile.
    await t.stop();

    say(`N=${n}: raw ssh2…`);
    const raw = await runRawSsh2(sshHosts);
    rawCold = raw[0];
    rawWarm.push(...raw.slice(1));
    rows.push(...raw);
    if (tools.pssh) {
      say(`N=${n}: parallel-ssh…`);
      pssh = psshRow(n, await runPssh(tools, sshHosts, set.clientKeyPath, tmp));
      rows.push(pssh);
    }
    if (tools.ansible) {
      say(`N=${n}: ansible…`);
      ansible = ansibleRow(n, await runAnsible(tools, sshHosts, set.clientKeyPath, tmp));
      rows.push(ansible);
    }
    details.push(...tools.notes);
  } catch (err) {
    details.push(`ERROR: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  } finally {
    say(`N=${n}: cleaning up…`);
    await cleanup.runAll();
    cleanups.delete(cleanup);
  }
  return { n, rows, ...(cold ? { cold } : {}), warm, ...(rawCold ? { rawCold } : {}), rawWarm, ...(pssh ? { pssh } : {}), ...(ansible ? { ansible } : {}), details };
}

async function main(): Promise<void> {
  const withOthers = !process.argv.includes("--without-others");
  smoke = process.argv.includes("--smoke");
  const args = process.argv.slice(2).filter((a) => a !== "--without-others" && a !== "--smoke");
  const counts = (args.length ? args : ["10", "50", "100"]).map(Number);
  const bad = args.filter((_, i) => !Number.isInteger(counts[i]) || counts[i]! < 1 || counts[i]! > 1000);
  if (bad.length) {
    say(`usage: npx tsx bench/fanout.ts [N ...] [--without-others] [--smoke]   (N: hosts, 1 to 1000; default 10 50 100); not a count: ${bad.join(" ")}`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    say("the benchmark needs root: it starts sshd test hosts, creates their login user and installs pssh, ansible and time with apt-get");
    process.exit(2);
  }
  const missing = await unreachableServices();
  if (missing.length) {
    say(`the benchmark needs Postgres and Redis on this machine: ${missing.join("; ")}`);
    process.exit(2);
  }
  const tools = await ensureTools(withOthers);
  await ensureTestUser();
  process.stdout.write(
    `# testum fan-out benchmark\n\nNode ${process.version}, ${availableParallelism()} CPUs; child CPU measured with ${tools.cpuMethod === "gnu-time" ? "GNU time (%U + %S)" : "bash `times` (children's user + sys)"}.\n`,
  );
  const outcomes: Outcome[] = [];
  for (const n of counts) {
    if (isInterrupted()) break;
    const o = await benchOne(n, tools);
    printOutcome(o);
    outcomes.push(o);
    if (smoke && o.rows.some((r) => r.ok !== n)) process.exitCode = 1;
  }
  printSummary(outcomes);
}

main().catch((err: unknown) => {
  say(`bench failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
