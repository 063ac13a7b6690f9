import ssh2 from "ssh2";
import type { Duplex } from "node:stream";
import type { ClientChannel } from "ssh2";
import { assertNoTransaction } from "../../core/db.js";
import { SshError } from "../../core/errors.js";
import type { ExecHandlers, ExecResult } from "./exec.js";
import { signalScript, taskSignalScript, wrapCommand } from "./remote-scripts.js";
import { ShellSession, type RunOptions } from "./shell-session.js";
import { msg } from "../../core/chat/i18n.js";

const { Client } = ssh2;

/**
 * The worker's door to SSH: an open connection (made by handshake.ts, with
 * host-key pinning), running a command in its own session so it can really
 * be stopped.
 */

export interface SshTarget {
  /** testum's name of the host, used in messages. */
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly username: string;
  readonly auth: { readonly privateKey: string; readonly passphrase?: string | undefined } | { readonly password: string };
  /** The pinned fingerprint; null accepts the first key seen (it is then pinned by the caller). */
  readonly expectedFingerprint: string | null;
}

export interface ConnectOptions {
  readonly readyTimeoutMs?: number | undefined;
  readonly keepaliveIntervalMs?: number;
  /** A channel opened through a bastion (`forwardOut`) to speak SSH over, instead of a TCP connection. */
  readonly sock?: Duplex | undefined;
  /** The bastion's name, for messages. */
  readonly via?: string | undefined;
  /** Longest a helper command (a stop signal, a process check) may run (default 10 s). */
  readonly helperCommandMs?: number | undefined;
}

/** The marker our wrapper prints before the command runs, carrying the shell's pid. */
const PID_MARKER = "\x1etestum-pid ";
/** Longest wait for the host to start a command's session. */
const OPEN_CHANNEL_MS = 30_000;
/** Longest a helper command (a stop signal, a process check) may run. */
const QUIET_COMMAND_MS = 10_000;

export class SshConnection {
  private closed = false;
  /** A long-lived shell for warm commands, once one is running (see shell-session.ts). */
  shell: ShellSession | undefined;
  /** The shell session's start, once asked for (it is tried once per connection). */
  private shellStart: Promise<ShellSession | undefined> | undefined;

  constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly target: SshTarget,
    readonly fingerprint: string,
    private readonly helperCommandMs = QUIET_COMMAND_MS,
  ) {
    client.on("close", () => (this.closed = true));
    client.on("error", () => (this.closed = true));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Calls `fn` once the connection has closed, for whatever reason. */
  onClose(fn: () => void): void {
    this.client.once("close", fn);
  }

  /**
   * Runs `command` through the login shell, in the session sshd made for it,
   * so `stop()` can signal the whole session. `signal` aborts: TERM, then
   * KILL after `graceMs`.
   */
  async exec(command: string, handlers: ExecHandlers, options: RunOptions & { stdin?: Buffer | undefined } = {}): Promise<ExecResult> {
    const { channel, exit } = await this.openChannel(wrapCommand(command, options.tag));
    // Commands get no input but `stdin`: a command that reads more sees end-of-file instead of waiting forever.
    channel.end(options.stdin);
    return new Promise<ExecResult>((resolve, reject) => {
      let pid: number | undefined;
      let head = Buffer.alloc(0);
      let markerDone = false;

      const forward = (chunk: Buffer, sink: (c: Buffer) => boolean | void) => {
        if (sink(chunk) === false && handlers.waitForDrain) {
          channel.pause();
          channel.stderr.pause();
          void handlers.waitForDrain().then(() => {
            channel.resume();
            channel.stderr.resume();
          });
        }
      };

      channel.on("data", (chunk: Buffer) => {
        if (markerDone) return forward(chunk, handlers.onStdout);
        head = Buffer.concat([head, chunk]);
        const text = head.toString("latin1");
        if (!text.startsWith(PID_MARKER.slice(0, Math.min(text.length, PID_MARKER.length)))) {
          markerDone = true;
          return forward(head, handlers.onStdout);
        }
        const newline = head.indexOf(0x0a);
        if (newline === -1 && head.length < 64) return;
        markerDone = true;
        const line = head.subarray(0, newline === -1 ? head.length : newline).toString("latin1");
        const match = /^\x1etestum-pid (\d+)$/.exec(line);
        // Only a real process group: a login script printing `testum-pid 1` must not make a stop signal everything.
        if (match && Number(match[1]) > 1 && Number.isSafeInteger(Number(match[1]))) {
          pid = Number(match[1]);
          options.onStarted?.(pid);
        }
        const rest = newline === -1 ? Buffer.alloc(0) : head.subarray(newline + 1);
        if (!match) return forward(head, handlers.onStdout);
        if (rest.length > 0) forward(rest, handlers.onStdout);
      });
      channel.stderr.on("data", (chunk: Buffer) => forward(chunk, handlers.onStderr));
      channel.on("close", () => {
        options.signal?.removeEventListener("abort", onAbort);
        resolve(exit);
      });
      channel.on("error", (err: Error) => reject(new SshError("other", `${this.target.name}: ${err.message}`, { cause: err })));

      const onAbort = () => {
        void this.stop(pid, channel, options.graceMs ?? 5000);
      };
      if (options.signal?.aborted) onAbort();
      else options.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Sends TERM to the command's whole session, then KILL if it is still there after `graceMs`. */
  private async stop(pid: number | undefined, channel: ClientChannel, graceMs: number): Promise<void> {
    let done = false;
    channel.once("close", () => (done = true));
    if (pid === undefined) {
      // The wrapper never ran (the shell is still starting): closing the channel hangs it up.
      channel.close();
      return;
    }
    await this.runQuiet(signalScript("TERM", pid)).catch(() => {});
    const deadline = Date.now() + graceMs;
    while (!done && Date.now() < deadline) await sleep(100);
    if (!done) {
      await this.runQuiet(signalScript("KILL", pid)).catch(() => {});
      channel.close();
      const hardDeadline = Date.now() + 5000;
      while (!done && Date.now() < hardDeadline) await sleep(100);
      // Something holds the channel open even after KILL: drop the connection.
      if (!done) this.client.end();
    }
  }

  /**
   * This connection's shell session, started on first use; undefined when
   * the host cannot run one (it then keeps using one exec per command).
   */
  async ensureShell(): Promise<ShellSession | undefined> {
    if (this.shell?.usable) return this.shell;
    if (!this.shellStart) {
      if (this.closed) return undefined;
      const host = {
        name: this.target.name,
        openRaw: async (command: string) => (await this.openChannel(command)).channel,
        signalTask: async (signal: "TERM" | "KILL", tag: string, pid: number) => void (await this.runQuiet(taskSignalScript(signal, tag, pid))),
      };
      this.shellStart = ShellSession.open(host)
        .catch(() => undefined)
        .then((shell) => (this.shell = shell));
    }
    const shell = await this.shellStart;
    return shell?.usable ? shell : undefined;
  }

  /** True once the shell session was asked for (started, starting, or found unavailable). */
  get shellAsked(): boolean {
    return this.shellStart !== undefined;
  }

  /** Starts the shell session in the background, for the commands to come. */
  prepareShell(): void {
    if (!this.shellStart && !this.closed) void this.ensureShell();
  }

  /**
   * Runs a short helper command (a stop signal, say) and waits for it, discarding output. A
   * helper still running after `timeoutMs` (the host answers, but the command hangs) is closed
   * and counts as no exit status: a stop goes on to its next step whatever the host does.
   */
  async runQuiet(command: string, timeoutMs = this.helperCommandMs): Promise<number | null> {
    const { channel, exit } = await this.openChannel(command, timeoutMs);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        channel.close();
        resolve(null);
      }, timeoutMs);
      channel.on("data", () => {});
      channel.stderr.on("data", () => {});
      channel.on("close", () => {
        clearTimeout(timer);
        resolve(exit.exitCode);
      });
    });
  }

  /**
   * Runs a command and collects its output as bytes (for short management
   * commands). After `timeoutMs` the channel is closed and the call fails.
   */
  async captureBytes(command: string, stdin?: Buffer | string, timeoutMs = 60_000): Promise<{ stdout: Buffer; stderr: string; code: number | null }> {
    const { channel, exit } = await this.openChannel(command);
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const timer = setTimeout(() => {
        channel.close();
        reject(new SshError("other", msg("ssh.command_timed_out", { host: this.target.name, seconds: Math.round(timeoutMs / 1000) })));
      }, timeoutMs);
      channel.on("data", (c: Buffer) => out.push(c));
      channel.stderr.on("data", (c: Buffer) => err.push(c));
      channel.on("close", () => {
        clearTimeout(timer);
        resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8"), code: exit.exitCode });
      });
      channel.end(stdin);
    });
  }

  /** Runs a command and collects its output as text. */
  async capture(command: string, stdin?: Buffer | string, timeoutMs?: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
    const result = await this.captureBytes(command, stdin, timeoutMs);
    return { ...result, stdout: result.stdout.toString("utf8") };
  }

  /**
   * Starts a command. The exit status is listened for at once: it can arrive
   * in the same read as the channel's confirmation, before any later listener.
   */
  private openChannel(command: string, timeoutMs = OPEN_CHANNEL_MS): Promise<{ channel: ClientChannel; exit: { exitCode: number | null; signal: string | null } }> {
    return new Promise((resolve, reject) => {
      assertNoTransaction(`an SSH command on ${this.target.name}`);
      // A host that never confirms the session (sshd stuck, not gone: keepalives still answer).
      // Not "not_started": the command may have been sent by then, so it is never tried again.
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reject(new SshError("other", `${this.target.name}: the host did not start the command's session within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.client.exec(command, (err, channel) => {
        clearTimeout(timer);
        if (late) {
          channel?.close();
          return;
        }
        if (err) return reject(new SshError("not_started", `${this.target.name}: could not start the command: ${err.message}`, { cause: err }));
        const exit = { exitCode: null as number | null, signal: null as string | null };
        channel.on("exit", (code: number | null, signalName?: string) => {
          exit.exitCode = code ?? null;
          exit.signal = signalName ?? null;
        });
        resolve({ channel, exit });
      });
    });
  }

  /**
   * Opens a TCP channel from this host to `address:port` (direct-tcpip), to
   * reach a host behind it. Fails after `timeoutMs`; nothing runs on this host.
   */
  forwardOut(address: string, port: number, timeoutMs: number): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      assertNoTransaction(`a channel through ${this.target.name}`);
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new SshError("connect", msg("ssh.via_timed_out", { via: this.target.name })));
      }, timeoutMs);
      this.client.forwardOut("127.0.0.1", 0, address, port, (err, channel) => {
        clearTimeout(timer);
        if (settled) {
          // Too late: the caller gave up on it.
          channel?.close();
          return;
        }
        settled = true;
        if (err) return reject(new SshError("connect", err.message, { cause: err }));
        resolve(channel);
      });
    });
  }

  end(): void {
    this.closed = true;
    this.shell?.close();
    this.client.end();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
