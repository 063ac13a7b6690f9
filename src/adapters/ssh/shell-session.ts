import { randomBytes } from "node:crypto";
import type { ClientChannel } from "ssh2";
import { REPORT_PID, shellQuote } from "./remote-scripts.js";
import type { ExecHandlers, ExecResult } from "./exec.js";

/**
 * A long-lived /bin/sh on a pooled connection that runs commands one at a
 * time. sshd's cost is making a session (fork, environment, the login
 * shell), so a warm host pays it once, not per command.
 *
 * Each command runs in the user's login shell, as an exec would, with stdin
 * at /dev/null (the session's stdin carries testum's instructions) and with
 * TESTUM_TASK set to a random tag in its environment. Everything it starts
 * inherits the tag, also processes that leave its process group or session,
 * so stopping it signals every process carrying the tag (the way CI servers
 * find a build's processes) and every descendant of the command's shell.
 * Its end is framed on stdout and stderr by markers carrying a random nonce
 * that the command's output cannot forge.
 */

const RS = "\x1e";

/** What the session needs from its connection: a channel, and a second one to send signals. */
export interface SessionHost {
  openRaw(command: string): Promise<ClientChannel>;
  /** Signals every process whose environment carries TESTUM_TASK=`tag`, and the descendants of the command's shell `pid`. */
  signalTask(signal: "TERM" | "KILL", tag: string, pid: number): Promise<void>;
  readonly name: string;
}

/**
 * `testum_held PID`: true while a process started after PID still holds the
 * session's stdout or stderr, like a background job the command left
 * behind. As with an exec, whose channel stays open until its output is
 * closed, the command has not ended until then, so no output of it ever
 * lands in the next command's. Only shell builtins: no process is started
 * for the check, which is what a warm command would otherwise pay for.
 */
const HELD_BY_OTHERS = [
  "testum_held() {",
  "  for p in /proc/[0-9]*; do",
  // sshd ($PPID) holds the other end of both pipes, which /proc shows as the same pipe.
  '    q=${p#/proc/}; [ "$q" -gt "$1" ] && [ "$q" != $$ ] && [ "$q" != $PPID ] || continue',
  "    if [ $p/fd/1 -ef /proc/$$/fd/1 ] || [ $p/fd/2 -ef /proc/$$/fd/2 ]; then return 0; fi",
  "  done",
  "  return 1",
  "}",
  // Short naps first (where sleep takes fractions), then a second at a time.
  "testum_nap() {",
  '  if [ "$1" -lt 20 ]; then sleep 0.1 || sleep 1; else sleep 1; fi </dev/null >/dev/null 2>&1',
  "}",
].join("\n");

/** Finds `marker` in a stream, forwarding what comes before it; handles markers split across chunks. */
class Framer {
  private pending = Buffer.alloc(0);

  constructor(
    private readonly marker: Buffer,
    private readonly forward: (chunk: Buffer) => void,
  ) {}

  /** Returns the bytes after the marker once it has been seen, else undefined. */
  push(chunk: Buffer): Buffer | undefined {
    this.pending = Buffer.concat([this.pending, chunk]);
    const at = this.pending.indexOf(this.marker);
    if (at !== -1) {
      if (at > 0) this.forward(this.pending.subarray(0, at));
      const rest = this.pending.subarray(at + this.marker.length);
      this.pending = Buffer.alloc(0);
      return rest;
    }
    // Hold back only a tail that could be the start of a marker, so live output is never delayed.
    const keep = this.partialMarkerAtEnd();
    const out = this.pending.subarray(0, this.pending.length - keep);
    if (out.length > 0) this.forward(out);
    this.pending = this.pending.subarray(this.pending.length - keep);
    return undefined;
  }

  /** Length of the longest end of `pending` that is a proper beginning of the marker. */
  private partialMarkerAtEnd(): number {
    const first = this.marker[0]!;
    const from = Math.max(0, this.pending.length - (this.marker.length - 1));
    for (let at = this.pending.indexOf(first, from); at !== -1; at = this.pending.indexOf(first, at + 1)) {
      const end = this.pending.subarray(at);
      if (this.marker.subarray(0, end.length).equals(end)) return end.length;
    }
    return 0;
  }
}

export class ShellSession {
  private busy = false;
  private dead = false;

  private constructor(
    private readonly host: SessionHost,
    private readonly channel: ClientChannel,
  ) {
    channel.on("close", () => (this.dead = true));
    channel.on("error", () => (this.dead = true));
    channel.stderr.on("error", () => (this.dead = true));
  }

  get usable(): boolean {
    return !this.dead && !this.busy;
  }

  /** Starts a session shell; undefined when the host cannot run one (no /proc to find a command's processes by). */
  static async open(host: SessionHost, timeoutMs = 5000): Promise<ShellSession | undefined> {
    const channel = await host.openRaw("exec /bin/sh");
    const nonce = randomBytes(8).toString("hex");
    const ready = await new Promise<boolean>((resolve) => {
      let out = "";
      const timer = setTimeout(() => resolve(false), timeoutMs);
      const onData = (chunk: Buffer) => {
        out += chunk.toString("latin1");
        if (out.includes(`${RS}ready ${nonce}`)) finish(true);
        else if (out.includes(`${RS}unable ${nonce}`)) finish(false);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        channel.off("data", onData);
        resolve(ok);
      };
      channel.on("data", onData);
      channel.on("close", () => finish(false));
      channel.write(`${HELD_BY_OTHERS}\n[ -r /proc/loadavg ] && [ -e /proc/$$/fd/1 ] && printf '\\036ready ${nonce}\\n' || printf '\\036unable ${nonce}\\n'\n`);
    });
    if (!ready) {
      channel.close();
      return undefined;
    }
    return new ShellSession(host, channel);
  }

  /**
   * Runs a command through the user's login shell, as an exec would. The
   * abort signal stops it and everything it started: TERM, then KILL.
   */
  run(command: string, handlers: ExecHandlers, options: { signal?: AbortSignal; graceMs?: number } = {}): Promise<ExecResult> {
    if (!this.usable) return Promise.reject(new Error("the shell session is not usable"));
    this.busy = true;
    const channel = this.channel;
    const nonce = randomBytes(12).toString("hex");
    const tag = randomBytes(12).toString("hex");
    // The login shell runs the command, as sshd would; it first reports its pid (the command has started).
    const script = `${REPORT_PID}; ${command}`;
    // The last pid handed out (loadavg's fifth field): every process the command starts gets a higher one.
    const line =
      `read -r b b b b b </proc/loadavg; TESTUM_TASK=${tag} "$SHELL" -c ${shellQuote(script)} </dev/null; s=$?; ` +
      `n=0; while testum_held $b; do testum_nap $n; n=$((n + 1)); done; ` +
      `printf '\\036testum-end ${nonce} %s\\n' "$s"; printf '\\036testum-end ${nonce}\\n' >&2\n`;

    return new Promise<ExecResult>((resolve) => {
      let pid: number | undefined;
      let exitCode: number | null | undefined;
      let stderrDone = false;
      let sent: "TERM" | "KILL" | undefined;
      let settled = false;
      let pidLine: Buffer | undefined;
      const paused = { value: false };
      const sinkOf = (sink: (c: Buffer) => boolean | void) => (chunk: Buffer) => {
        if (chunk.length === 0) return;
        if (sink(chunk) === false && handlers.waitForDrain && !paused.value) {
          paused.value = true;
          channel.pause();
          channel.stderr.pause();
          void handlers.waitForDrain().then(() => {
            paused.value = false;
            channel.resume();
            channel.stderr.resume();
          });
        }
      };
      const endOut = new Framer(Buffer.from(`${RS}testum-end ${nonce} `), sinkOf(handlers.onStdout));
      const endErr = new Framer(Buffer.from(`${RS}testum-end ${nonce}\n`), sinkOf(handlers.onStderr));
      let outTail: Buffer | undefined;

      const finish = (result: ExecResult) => {
        if (settled) return;
        settled = true;
        channel.off("data", onStdout);
        channel.stderr.off("data", onStderr);
        channel.off("close", onClose);
        options.signal?.removeEventListener("abort", onAbort);
        this.busy = false;
        resolve(result);
      };
      const maybeDone = () => {
        if (exitCode !== undefined && stderrDone) {
          // Stopped: reported as the last signal it took (the command, or what it left holding its output).
          const killed = sent !== undefined && exitCode !== null && exitCode > 128;
          finish({ exitCode: killed ? null : exitCode, signal: killed ? sent! : null });
        }
      };
      const onStdout = (chunk: Buffer) => {
        if (pid === undefined) {
          // The first line is the command's pid (its session's id).
          pidLine = Buffer.concat([pidLine ?? Buffer.alloc(0), chunk]);
          const text = pidLine.toString("latin1");
          const match = /^\x1etestum-pid (\d+)\n/.exec(text);
          if (!match) {
            if (pidLine.length > 64 || !text.startsWith(`${RS}testum-pid`.slice(0, text.length))) {
              // No pid line (the shell did not start the command): treat everything as output.
              pid = -1;
              chunk = pidLine;
            } else return;
          } else {
            pid = Number(match[1]);
            chunk = pidLine.subarray(Buffer.byteLength(match[0], "latin1"));
          }
          if (options.signal?.aborted) onAbort();
        }
        if (exitCode !== undefined) return;
        const after = endOut.push(chunk);
        if (after === undefined) return;
        outTail = Buffer.concat([outTail ?? Buffer.alloc(0), after]);
        const match = /^(\d+)\n/.exec(outTail.toString("latin1"));
        if (!match) return;
        exitCode = Number(match[1]);
        maybeDone();
      };
      const onStderr = (chunk: Buffer) => {
        if (stderrDone) return;
        if (endErr.push(chunk) !== undefined) {
          stderrDone = true;
          maybeDone();
        }
      };
      const onClose = () => finish({ exitCode: null, signal: sent ?? null });
      const onAbort = () => {
        if (pid === undefined || pid <= 0 || sent) return;
        void (async () => {
          sent = "TERM";
          await this.host.signalTask("TERM", tag, pid).catch(() => {});
          await new Promise((r) => setTimeout(r, options.graceMs ?? 5000));
          // KILL whatever is left, also when the command has ended: what it detached and that
          // ignores TERM does not hold its output, so the command's end says nothing of it.
          if (!settled) sent = "KILL";
          await this.host.signalTask("KILL", tag, pid).catch(() => {});
          if (settled) return;
          await new Promise((r) => setTimeout(r, 5000));
          // Something still holds the session's output: give it up.
          if (!settled) {
            this.dead = true;
            channel.close();
            finish({ exitCode: null, signal: "KILL" });
          }
        })();
      };

      channel.on("data", onStdout);
      channel.stderr.on("data", onStderr);
      channel.on("close", onClose);
      if (options.signal?.aborted) onAbort();
      else options.signal?.addEventListener("abort", onAbort, { once: true });
      channel.write(line);
    });
  }

  close(): void {
    this.dead = true;
    this.channel.close();
  }
}
