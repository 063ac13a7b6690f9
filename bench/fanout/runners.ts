// bench:fanout's runners: testum's path (a job through the worker, timed from the enqueue to the
// last task's result) and what it is compared with on the same hosts: bare ssh2 in this process,
// parallel-ssh and `ansible -m raw` (installed with apt-get when missing, their CPU measured by
// GNU time). Each run gives one row of figures; see bench/fanout.ts for what they mean.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { MAX_CONNECTING } from "../../src/adapters/ssh/pool.js";
import { Semaphore } from "../../src/core/concurrency.js";
import type { Host } from "../../src/core/hosts/hosts.js";
import type { Job, Task } from "../../src/core/jobs/jobs.js";
import { requestJob } from "../../src/core/jobs/lifecycle.js";
import { SSH_TEST_USER, type SshHost } from "../../tests/helpers/sshd.js";
import { type BenchTestum, CONVERSATION, chatReport, machineBusySeconds, PUBLIC_URL, rawConnect, rawExec, type Ssh2Client, say } from "../support.js";

const PSSH = "/usr/bin/parallel-ssh";
const ANSIBLE = "/usr/bin/ansible";
const GNU_TIME = "/usr/bin/time";
const POLL_MS = 5;
/** Longest a single measured run may take before the bench gives up on it. */
const RUN_DEADLINE_MS = 180_000;
const JOB_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// tools

export interface Tools {
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
export async function ensureTools(withOthers: boolean): Promise<Tools> {
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
// one run, one row

export interface Row {
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

// ---------------------------------------------------------------------------------------------
// testum

export interface TestumRun {
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
export async function runTestumJob(t: BenchTestum, label: string, hosts: readonly Host[]): Promise<TestumRun> {
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

/** CPU this process spends per second on the bench's own 5 ms poll, with testum idle. */
export async function pollOverhead(t: BenchTestum, jobId: number): Promise<number> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    await t.sql`select count(*)::int as done from job_tasks where job_id = ${jobId} and status not in ('queued', 'running')`;
    await sleep(POLL_MS);
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1e3 / ((performance.now() - t0) / 1000);
}

// ---------------------------------------------------------------------------------------------
// raw ssh2

/**
 * The same `true` with bare ssh2 in this process, all hosts at once (as many handshakes at once
 * as testum allows): over new connections (cold) and then twice over those same connections (warm). What is left between these and testum's
 * figures is testum's own cost; what they cost themselves is the hosts' (sshd on the same cores).
 */
export async function runRawSsh2(hosts: readonly SshHost[]): Promise<Row[]> {
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

export function psshRow(n: number, run: ChildRun): Row {
  const ok = (run.stdout.match(/\[SUCCESS\]/g) ?? []).length;
  const note = run.code === 0 ? undefined : `(exit ${run.code}: ${(run.stdout + run.stderr).trim().split("\n").slice(-2).join(" ").slice(0, 160)})`;
  return { tool: `parallel-ssh -p ${n}`, wallS: run.wallS, cpuS: run.cpuS, machineCpuS: run.machineCpuS, ok, ...(note ? { note } : {}) };
}

export function ansibleRow(n: number, run: ChildRun): Row {
  const ok = (run.stdout.match(/ \| (CHANGED|SUCCESS) \| rc=0/g) ?? []).length;
  const note = run.code === 0 ? undefined : `(exit ${run.code}: ${(run.stdout + run.stderr).trim().split("\n").slice(-2).join(" ").slice(0, 160)})`;
  return { tool: `ansible -m raw -f ${n}`, wallS: run.wallS, cpuS: run.cpuS, machineCpuS: run.machineCpuS, ok, ...(note ? { note } : {}) };
}

export async function runPssh(tools: Tools, hosts: readonly SshHost[], keyPath: string, dir: string): Promise<ChildRun> {
  const hostsFile = join(dir, "pssh-hosts");
  await writeFile(hostsFile, hosts.map((h) => `127.0.0.1:${h.port}`).join("\n") + "\n");
  const extra = `-i ${keyPath} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes`;
  return runTimed(tools, tools.pssh!, ["-h", hostsFile, "-l", SSH_TEST_USER, "-x", extra, "-p", String(hosts.length), "-t", "60", "true"], {
    env: { ...process.env },
    cwd: dir,
  });
}

export async function runAnsible(tools: Tools, hosts: readonly SshHost[], keyPath: string, dir: string): Promise<ChildRun> {
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
