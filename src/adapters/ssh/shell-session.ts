import { randomBytes } from "node:crypto";
import type { ClientChannel } from "ssh2";
import { shellQuote } from "./remote-scripts.js";
import type { ExecHandlers, ExecResult } from "./exec.js";

/**
 * A long-lived runner on a pooled connection that runs commands one at a
 * time. sshd's cost is making a session (fork, environment, the login
 * shell), so a warm host pays it once, not per command.
 *
 * Each command runs in the user's login shell, as an exec would, with stdin
 * at /dev/null (the session's stdin carries testum's instructions) and with
 * TESTUM_TASK set to a random tag in its environment. Everything it starts
 * inherits the tag, also processes that leave its process group or session,
 * so stopping it signals every process carrying the tag (the way CI servers
 * find a build's processes) and every descendant of the command's shell.
 * Its end is framed on stdout and stderr by markers carrying a random nonce.
 *
 * The runner is a small Perl program that makes itself non-dumpable
 * (prctl PR_SET_DUMPABLE 0) before it reads any instruction, as sshd does
 * for its own session processes. The kernel then lets no other process of
 * the same user open its file descriptors through /proc or trace it, so
 * what a job leaves running cannot read the next job's instruction (its
 * command text and end nonce) from the session's stdin, nor forge its end:
 * only the runner knows the nonce, and only the runner prints the end
 * marker. Where that cannot be had (no Perl, a kernel or architecture the
 * runner does not know), the host runs one exec per command instead.
 * Against the account's own root, or a leftover running as root, nothing on
 * the host is protected.
 */

const RS = "\x1e";

/** What the session needs from its connection: a channel, and a second one to send signals. */
export interface SessionHost {
  openRaw(command: string): Promise<ClientChannel>;
  /** Signals every process whose environment carries TESTUM_TASK=`tag`, and the descendants of the command's shell `pid` (when known). */
  signalTask(signal: "TERM" | "KILL", tag: string, pid: number | undefined): Promise<void>;
  readonly name: string;
}

/**
 * The runner. Per instruction line `NONCE TAG HEX(command)`: notes the last
 * pid handed out, forks, prints the child's pid (after the nonce: output a
 * leftover writes into the session is never taken for it), lets the child exec the
 * login shell with the command (stdin /dev/null, TESTUM_TASK=TAG), waits for
 * it, then waits while a process started after it still holds the session's
 * stdout or stderr (a background job the command left behind: as with an
 * exec, whose channel stays open until its output is closed, the command has
 * not ended until then), and prints the end markers with the exit status.
 * One line of Perl without "!", so any login shell passes it on unchanged.
 */
export const RUNNER = [
  "use POSIX (); $| = 1;",
  // prctl's syscall number per architecture (PR_SET_DUMPABLE is 4).
  "my %nr = (x86_64 => 157, aarch64 => 167, riscv64 => 167, loongarch64 => 167, i386 => 172, i486 => 172, i586 => 172, i686 => 172, armv6l => 172, armv7l => 172, s390x => 172, ppc64 => 171, ppc64le => 171);",
  "my $n = $nr{(POSIX::uname())[4]};",
  // Non-dumpable: /proc/PID/fd then belongs to root (a root login is not protected anyway).
  'my $ok = defined($n) && syscall($n, 4, 0, 0, 0, 0) == 0 && ($> == 0 || (stat("/proc/$$/fd"))[4] == 0);',
  'unless ($ok) { print "\\036unable $ARGV[0]\\n"; exit 0 }',
  'print "\\036ready $ARGV[0]\\n"; my $pp = getppid();',
  'sub held { my ($b) = @_; my @o = stat(STDOUT); my @e = stat(STDERR); opendir(my $d, "/proc") or return 0;',
  " for my $q (readdir $d) { next unless $q =~ /^[0-9]+$/ and $q > $b and $q ne $$ and $q ne $pp;",
  '  for my $f (1, 2) { my @s = stat("/proc/$q/fd/$f") or next; return 1 if ($s[0] == $o[0] and $s[1] == $o[1]) or ($s[0] == $e[0] and $s[1] == $e[1]) } }',
  " return 0 }",
  "while (defined(my $line = <STDIN>)) { chomp $line; my ($nonce, $tag, $hex) = split / /, $line; last unless defined $hex;",
  // The last pid handed out (loadavg's fifth field): every process the command starts gets a higher one.
  ' my $b = 0; if (open(my $la, "<", "/proc/loadavg")) { ($b) = (split / /, scalar <$la>)[4] =~ /([0-9]+)/; close $la }',
  // The child waits until its pid has been printed, so nothing it runs can write before that line.
  " pipe(my $r, my $w); my $pid = fork();",
  ' if (defined $pid and $pid == 0) { close $w; sysread($r, my $x, 1); close $r; open(STDIN, "<", "/dev/null"); $ENV{TESTUM_TASK} = $tag;',
  '  my $sh = $ENV{SHELL} || "/bin/sh"; my $cmd = pack("H*", $hex); exec { $sh } $sh, "-c", $cmd; POSIX::_exit(127) }',
  " close $r; my $code = 126;",
  ' if (defined $pid) { print "\\036testum-pid $nonce $pid\\n"; close $w; waitpid($pid, 0); my $s = $?; $code = ($s & 127) ? 128 + ($s & 127) : ($s >> 8);',
  "  my $i = 0; while (held($b)) { select(undef, undef, undef, $i < 20 ? 0.1 : 1); $i++ } } else { close $w }",
  ' print STDOUT "\\036testum-end $nonce $code\\n"; print STDERR "\\036testum-end $nonce\\n" }',
].join(" ");

/**
 * Finds `marker` in a stream, forwarding what comes before it without
 * copying it. A marker split across chunks is found by looking only at the
 * boundary: the few bytes held back from the last chunk (a proper beginning
 * of the marker) and as many from the start of the next.
 */
export class Framer {
  /** Held back from the last chunk: a proper beginning of the marker, copied (it is short). */
  private held: Buffer | undefined;

  constructor(
    private readonly marker: Buffer,
    private readonly forward: (chunk: Buffer) => void,
  ) {}

  /** Returns the bytes after the marker once it has been seen, else undefined. */
  push(chunk: Buffer): Buffer | undefined {
    if (this.held) {
      const held = this.held;
      this.held = undefined;
      const joined = Buffer.concat([held, chunk.subarray(0, this.marker.length - 1)]);
      const at = joined.indexOf(this.marker);
      if (at !== -1) {
        // It starts in what was held (a whole marker does not fit in the bytes taken from `chunk`).
        if (at > 0) this.forward(held.subarray(0, at));
        return chunk.subarray(at + this.marker.length - held.length);
      }
      if (chunk.length < this.marker.length - 1) {
        // A short chunk: the marker may still begin in what is held, or in it.
        return this.scan(joined);
      }
      this.forward(held);
    }
    return this.scan(chunk);
  }

  private scan(chunk: Buffer): Buffer | undefined {
    const at = chunk.indexOf(this.marker);
    if (at !== -1) {
      if (at > 0) this.forward(chunk.subarray(0, at));
      return chunk.subarray(at + this.marker.length);
    }
    // Hold back only an end that could be the start of a marker, so live output is never delayed.
    const keep = this.partialMarkerAtEnd(chunk);
    if (chunk.length > keep) this.forward(keep === 0 ? chunk : chunk.subarray(0, chunk.length - keep));
    if (keep > 0) this.held = Buffer.from(chunk.subarray(chunk.length - keep));
    return undefined;
  }

  /** Length of the longest end of `chunk` that is a proper beginning of the marker. */
  private partialMarkerAtEnd(chunk: Buffer): number {
    const first = this.marker[0]!;
    const from = Math.max(0, chunk.length - (this.marker.length - 1));
    for (let at = chunk.indexOf(first, from); at !== -1; at = chunk.indexOf(first, at + 1)) {
      const end = chunk.subarray(at);
      if (this.marker.subarray(0, end.length).equals(end)) return end.length;
    }
    return 0;
  }
}

/** How a command is run: stopped by `signal` (TERM, then KILL after `graceMs`), tagged with `tag`. */
export interface RunOptions {
  readonly signal?: AbortSignal | undefined;
  readonly graceMs?: number | undefined;
  /** The TESTUM_TASK value its processes carry (random when not given). */
  readonly tag?: string | undefined;
  /** Called with the pid of the command's shell once it has started. */
  readonly onStarted?: ((pid: number) => void) | undefined;
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

  /**
   * Starts the session's runner; undefined when the host cannot run one (no
   * Perl, or no way to keep other processes out of it): it then uses one exec per command.
   */
  static async open(host: SessionHost, timeoutMs = 5000): Promise<ShellSession | undefined> {
    const nonce = randomBytes(8).toString("hex");
    const channel = await host.openRaw(`exec perl -e ${shellQuote(RUNNER)} ${nonce}`);
    // Whatever the login shell or Perl says before the runner is ready is not any command's output.
    const discard = () => {};
    channel.stderr.on("data", discard);
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
    });
    channel.stderr.off("data", discard);
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
  run(command: string, handlers: ExecHandlers, options: RunOptions = {}): Promise<ExecResult> {
    if (!this.usable) return Promise.reject(new Error("the shell session is not usable"));
    this.busy = true;
    const channel = this.channel;
    const nonce = randomBytes(12).toString("hex");
    const tag = options.tag ?? randomBytes(12).toString("hex");
    const line = `${nonce} ${tag} ${Buffer.from(command, "utf8").toString("hex")}\n`;

    return new Promise<ExecResult>((resolve) => {
      let pid: number | undefined;
      let exitCode: number | null | undefined;
      let stderrDone = false;
      let sent: "TERM" | "KILL" | undefined;
      let settled = false;
      let pidLine: Buffer | undefined;
      // Found after the nonce, which only the runner knows: bytes before it (a leftover of an
      // earlier command holding the session's output, say) are output, not a missing pid line.
      const pidMarker = new Framer(Buffer.from(`${RS}testum-pid ${nonce} `), (before) => toEnd(before));
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
          const after = pidMarker.push(chunk);
          if (after === undefined) return;
          // The command's pid (its session's id), then its output.
          pidLine = Buffer.concat([pidLine ?? Buffer.alloc(0), after]);
          const match = /^(\d+)\n/.exec(pidLine.toString("latin1"));
          if (!match) {
            if (pidLine.length < 24 && /^\d*$/.test(pidLine.toString("latin1"))) return;
            // Not a pid: the runner is not the one speaking; stops then go by the command's tag alone.
            pid = -1;
            chunk = pidLine;
          } else {
            pid = Number(match[1]);
            options.onStarted?.(pid);
            chunk = pidLine.subarray(match[0].length);
          }
          if (options.signal?.aborted) onAbort();
        }
        toEnd(chunk);
      };
      const toEnd = (chunk: Buffer) => {
        if (exitCode !== undefined || chunk.length === 0) return;
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
        if (pid === undefined || sent) return;
        // Without the command's pid, its tag still finds every process it started.
        const shell = pid > 1 ? pid : undefined;
        void (async () => {
          sent = "TERM";
          await this.host.signalTask("TERM", tag, shell).catch(() => {});
          await new Promise((r) => setTimeout(r, options.graceMs ?? 5000));
          // KILL whatever is left, also when the command has ended: what it detached and that
          // ignores TERM does not hold its output, so the command's end says nothing of it.
          if (!settled) sent = "KILL";
          await this.host.signalTask("KILL", tag, shell).catch(() => {});
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
