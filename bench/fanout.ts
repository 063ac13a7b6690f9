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
// The hosts come from bench/fleet.ts (shared with bench:stream), the runs from
// bench/fanout/runners.ts, the tables and goals from bench/fanout/report.ts.
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

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureTestUser } from "../tests/helpers/sshd.js";
import { type Outcome, phasesOf, printHeader, printOutcome, printSummary } from "./fanout/report.js";
import { ansibleRow, ensureTools, pollOverhead, psshRow, type Row, runAnsible, runPssh, runRawSsh2, runTestumJob, type TestumRun, type Tools } from "./fanout/runners.js";
import { startFleet } from "./fleet.js";
import { Cleanup, cleanups, isInterrupted, quietMachine, say, startBenchTestum, unreachableServices } from "./support.js";

/** --smoke: checks that everything runs (CI): no waiting for a quiet machine, and a host that fails fails the bench. */
let smoke = false;

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
    const fleet = await startFleet(n, cleanup, "bench");
    const sshHosts = fleet.hosts;

    say(`N=${n}: starting testum…`);
    const t = await startBenchTestum(n, sshHosts, fleet.warmup, fleet.clientPrivateKey, cleanup, tmp);
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
      pssh = psshRow(n, await runPssh(tools, sshHosts, fleet.clientKeyPath, tmp));
      rows.push(pssh);
    }
    if (tools.ansible) {
      say(`N=${n}: ansible…`);
      ansible = ansibleRow(n, await runAnsible(tools, sshHosts, fleet.clientKeyPath, tmp));
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
  printHeader(tools);
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
