import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { isTestumError, SshError, TestumError } from "../core/errors.js";
import type { Host } from "../core/hosts/hosts.js";
import { msg, translate, translator } from "../core/chat/i18n.js";
import type { Job, Task } from "../core/jobs/jobs.js";
import type { TaskOutcome } from "../core/jobs/task-recorder.js";
import type { ProcessRecorder } from "../core/jobs/remote-processes.js";
import { LOG_GRACE_MS, LogStoreTimeoutError, settleUpload } from "../core/jobs/log-upload.js";
import type { LogStore, Logger } from "../core/ports.js";
import { hostSecrets, type RedactionRules } from "../core/jobs/redact.js";
import { StreamRedactor } from "../core/jobs/redact-stream.js";
import { isDatabaseUnavailable } from "../core/chat/replies.js";
import { TailBuffer } from "../core/jobs/tail.js";
import { taskSeconds } from "../adapters/metrics/process.js";
import type { ConnectionPool } from "../adapters/ssh/pool.js";

export interface TaskRun {
  readonly job: Job;
  readonly task: Task;
  readonly host: Host | undefined;
  /** Aborts the task: cancel, or the job's time limit. */
  readonly signal: AbortSignal;
  /** Called as output arrives, for live views. */
  readonly onOutput: (tail: TailBuffer) => void;
  /** What to redact: the job's rules, given the host's own secrets (see redact.ts). */
  readonly redaction: (hostSecrets: readonly { name: string; value: string }[]) => RedactionRules;
  /**
   * Whether the output is compared with other output: hosts of a fan-out
   * grouped by identical results, a schedule's `--on-change`. Only then is
   * it hashed (SHA-256 over every byte costs about a tenth of streaming's CPU).
   */
  readonly compared: boolean;
}

export interface TaskDeps {
  readonly pool: ConnectionPool;
  readonly logs: LogStore;
  readonly log: Logger;
  /** How long the log may still take to store after the task's deadline. */
  readonly logGraceMs?: number | undefined;
  /** Notes what each command started, so a lost job's commands can be stopped. */
  readonly processes?: ProcessRecorder | undefined;
}

/**
 * Runs a script: written to a private temporary file through stdin, run with
 * its own `#!` line (sh when it has none), and removed afterwards.
 */
export const SCRIPT_RUNNER = [
  'f=$(mktemp "${TMPDIR:-/tmp}/testum-script.XXXXXX") || exit 125',
  `trap 'rm -f "$f"' EXIT`,
  `trap 'rm -f "$f"; exit 143' TERM INT HUP`,
  'cat > "$f" && chmod 700 "$f" || exit 125',
  'if [ "$(head -c 2 "$f")" = "#!" ]; then "$f"; else sh "$f"; fi',
].join("\n");

export function logKeyOf(job: Pick<Job, "id">, host: string): string {
  return `jobs/${job.id}/${host}.log`;
}

/** Why a task ended without running, in the words the job shows. */
function failureOf(err: unknown, log: Logger, job: Job, host: string): TaskOutcome {
  const t = translator(job.lang);
  if (isTestumError(err)) return { status: "failed", errorCode: err.code, error: err.say(t) };
  if (isDatabaseUnavailable(err)) return { status: "failed", errorCode: "database_unavailable", error: t("task.database_unavailable") };
  log.error({ err, job: job.id, host }, "task failed unexpectedly");
  return { status: "failed", errorCode: "internal", error: t("task.internal_error") };
}

/**
 * Runs one host's part of a job: the command (or script) over a pooled
 * connection, output streamed to the log store and a tail kept for chat.
 * The abort signal stops the remote command and everything it started.
 */
export async function runTask(deps: TaskDeps, run: TaskRun): Promise<TaskOutcome & { mismatch?: SshError }> {
  const { job, task, host, signal } = run;
  // The log is stored by the task's deadline plus a grace period, or given up.
  const logDeadline = Date.now() + job.timeoutMs + (deps.logGraceMs ?? LOG_GRACE_MS);
  const timer = taskSeconds.startTimer();
  const tail = new TailBuffer();
  const hash = run.compared ? createHash("sha256") : undefined;
  const logKey = logKeyOf(job, task.hostName);
  const upload = deps.logs.open(logKey);
  let endsWithNewline = true;
  // Everything after this point sees output only once it is redacted: the tail (live messages, job
  // page, summary, report), the output hash and the stored log.
  const sink = (pieces: readonly Buffer[]) => {
    if (pieces.length === 0) return true;
    let more = true;
    for (const piece of pieces) {
      endsWithNewline = piece[piece.length - 1] === 0x0a;
      tail.push(piece);
      hash?.update(piece);
      more = upload.stream.write(piece);
    }
    run.onOutput(tail);
    return more;
  };
  // One redactor per stream, made once the connection (and so the host's secret) is known.
  let redactors: { stdout: StreamRedactor; stderr: StreamRedactor } | undefined;
  const redactFor = (auth: Parameters<typeof hostSecrets>[0]) => {
    const rules = run.redaction(hostSecrets(auth));
    redactors ??= { stdout: new StreamRedactor(rules), stderr: new StreamRedactor(rules) };
  };
  /** What the redactors still hold, once the command has ended. */
  const flush = () => {
    if (!redactors) return;
    sink(redactors.stdout.end());
    sink(redactors.stderr.end());
    redactors = undefined;
  };
  const handlers = {
    onStdout: (chunk: Buffer) => (redactors ? sink(redactors.stdout.push(chunk)) : true),
    onStderr: (chunk: Buffer) => (redactors ? sink(redactors.stderr.push(chunk)) : true),
    waitForDrain: () => once(upload.stream, "drain").then(() => undefined),
  };
  const command = job.kind === "script" ? SCRIPT_RUNNER : job.command;
  const stdin = job.kind === "script" ? Buffer.from(job.command, "utf8") : undefined;

  // Every process the command starts carries this tag; it and the shell's pid are recorded as it starts.
  const tag = randomBytes(12).toString("hex");
  const started = { tag, onStarted: (pid: number) => deps.processes?.started(job.id, task.hostName, tag, pid) };
  let outcome: TaskOutcome;
  let mismatch: SshError | undefined;
  /** Gives the task's connection back to the pool, while the task holds one. */
  let held: (() => void) | undefined;
  try {
    if (!host) throw new TestumError("unknown_host", msg("task.host_removed", { name: task.hostName }));
    if (signal.aborted) throw new TestumError("conflict", msg("task.stopped_before_start"));
    let { conn, warm, shared } = await deps.pool.acquire(host, job.conversation, { signal });
    // Should the command fail to run, the connection still goes back (the pool drops it if it is broken).
    held = () => deps.pool.release(host, conn, shared);
    redactFor(conn.target.auth);
    let result: { readonly exitCode: number | null; readonly signal: string | null };
    try {
      // Commands on a pooled connection run in its long-lived shell: one SSH session per host,
      // however many jobs follow. A new connection's first command is an exec, the quickest way
      // for one command (the pool starts the shell afterwards). Scripts need stdin, so they get an
      // exec of their own, and so does a command sharing a connection another task is using.
      const shell = stdin === undefined && warm ? await conn.ensureShell() : undefined;
      result = shell ? await shell.run(command, handlers, { signal, ...started }) : await conn.exec(command, handlers, { signal, stdin, ...started });
    } catch (err) {
      // A warm connection that died while idle, or a shared one whose host allows no more
      // sessions on it: once more, on a connection of its own. Only when the command never
      // started, so nothing runs twice.
      if (!(warm || shared) || !(err instanceof SshError) || err.failure !== "not_started") throw err;
      if (shared) deps.pool.refusedShare(host, conn);
      else deps.pool.drop(host, conn);
      held = undefined;
      ({ conn, warm, shared } = await deps.pool.acquire(host, job.conversation, { fresh: true, signal }));
      held = () => deps.pool.release(host, conn, shared);
      result = await conn.exec(command, handlers, { signal, stdin, ...started });
    }
    flush();
    held();
    held = undefined;
    if (result.exitCode === null && result.signal === null && !signal.aborted) {
      // The session ended without an exit status: the connection or the host went away mid-command.
      const t = translator(job.lang);
      outcome = { status: "failed", exitCode: null, signal: null, errorCode: "connection_lost", error: t("task.connection_lost", { host: task.hostName }) };
    } else outcome = { status: result.exitCode === 0 ? "succeeded" : "failed", exitCode: result.exitCode, signal: result.signal };
  } catch (err) {
    held?.();
    if (err instanceof SshError && err.failure === "host_key_mismatch") mismatch = err;
    outcome = failureOf(err, deps.log, job, task.hostName);
    flush();
    // The log says why the command did not run (or stopped), so it is never an empty page.
    upload.stream.write(`${endsWithNewline ? "" : "\n"}testum: ${outcome.error}\n`);
  } finally {
    upload.stream.end();
  }

  // Stopped: cancelled, or over the job's time limit.
  timer({ status: outcome.status === "succeeded" ? "succeeded" : signal.aborted ? "stopped" : "failed" });
  let logProblem: string | undefined;
  const stored = await settleUpload(upload, { until: logDeadline, signal }).catch((err: Error) => {
    // Chat is told what happened, never where the store is or its own error text (paths, endpoints,
    // bucket names): those are in testum's log, for its operators.
    const problem =
      err instanceof LogStoreTimeoutError
        ? translate(job.lang, "task.log_store_timed_out", { seconds: Math.round(err.waitedMs / 1000) })
        : translate(job.lang, "task.log_store_failed");
    logProblem = translate(job.lang, "task.log_not_stored", { problem });
    deps.log.error({ err, job: job.id, host: task.hostName, store: deps.logs.kind }, "log upload failed");
    return undefined;
  });
  return {
    ...outcome,
    error: [outcome.error, logProblem].filter(Boolean).join("\n") || null,
    logKey: stored ? logKey : null,
    logBytes: stored?.bytes ?? null,
    logLines: tail.lineCount,
    tail: tail.snapshot().lines.slice(-20).join("\n"),
    outputHash: hash?.digest("hex") ?? null,
    ...(mismatch ? { mismatch } : {}),
  };
}
