// bench:fanout's report: per N, a table of every run, the ratios between them and testum's goals
// (HOLDS / FAILS) with details; at the end a summary table of all N, ready for the README.
// Everything goes to stdout, as Markdown.

import { availableParallelism } from "node:os";
import type { Row, TestumRun, Tools } from "./runners.js";

/** The report's title and the machine it ran on. */
export function printHeader(tools: Tools): void {
  process.stdout.write(
    `# testum fan-out benchmark\n\nNode ${process.version}, ${availableParallelism()} CPUs; child CPU measured with ${tools.cpuMethod === "gnu-time" ? "GNU time (%U + %S)" : "bash `times` (children's user + sys)"}.\n`,
  );
}

export interface Outcome {
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

export function printOutcome(o: Outcome): void {
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

export function printSummary(outcomes: readonly Outcome[]): void {
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

/** Where the job's time went, from the timestamps the worker wrote (Postgres now(), same clock). */
export function phasesOf(run: TestumRun): string {
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
