import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectSsh } from "../src/adapters/ssh/handshake.js";
import type { SshConnection } from "../src/adapters/ssh/ssh.js";
import type { ShellSession } from "../src/adapters/ssh/shell-session.js";
import { remoteProcesses, startSshHosts, type SshHostSet } from "./helpers/sshd.js";
import { eventually } from "./helpers/testum.js";

/** Sleep lengths unique to this run: processes another run left behind are never mistaken for ours. */
const S = 10_000 + (process.pid % 50_000) * 10;
const sleeps = (...k: number[]) => new RegExp(`^sleep (${k.map((i) => S + i).join("|")})$`);

let ssh: SshHostSet;
let conn: SshConnection;
let shell: ShellSession;

async function run(command: string, signal?: AbortSignal) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const result = await shell.run(command, { onStdout: (c) => void out.push(c), onStderr: (c) => void err.push(c) }, { signal, graceMs: 1000 });
  return { ...result, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

beforeAll(async () => {
  ssh = await startSshHosts(1);
  const host = ssh.hosts[0]!;
  conn = await connectSsh({
    name: "h",
    address: host.host,
    port: host.port,
    username: ssh.user,
    auth: { privateKey: ssh.clientPrivateKey },
    expectedFingerprint: host.hostKeyFingerprint,
  });
  shell = (await conn.ensureShell())!;
  expect(shell).toBeDefined();
});

afterAll(async () => {
  conn?.end();
  await ssh?.stop();
});

describe("a long-lived shell session for warm commands", () => {
  it("keeps stdout and stderr apart and reports exit codes, command after command", async () => {
    expect(await run("echo out; echo err >&2; exit 3")).toMatchObject({ stdout: "out\n", stderr: "err\n", exitCode: 3, signal: null });
    expect(await run("printf 'no newline'")).toMatchObject({ stdout: "no newline", exitCode: 0 });
    expect(await run("true")).toMatchObject({ stdout: "", stderr: "", exitCode: 0 });
    expect(shell.usable).toBe(true);
  });

  it("cannot be fooled by output that looks like its markers, and gives commands no stdin", async () => {
    const fake = await run(`printf '\\036testum-end 0123456789abcdef01234567 0\\n'; cat; echo after`);
    expect(fake.stdout).toBe("\x1etestum-end 0123456789abcdef01234567 0\nafter\n");
    expect(fake.exitCode).toBe(0);
  });

  it("passes output on as it comes, not when the command ends", async () => {
    const seen: string[] = [];
    let endedAt = 0;
    const arrivals: { text: string; at: number }[] = [];
    const pending = shell
      .run("echo hi; sleep 1; printf '\\036'; sleep 1; echo bye", {
        onStdout: (c) => void arrivals.push({ text: c.toString("latin1"), at: Date.now() }),
        onStderr: () => {},
      })
      .then((r) => ((endedAt = Date.now()), r));
    await eventually("the first line before the command ends", () => arrivals.some((a) => a.text.includes("hi")));
    seen.push(...arrivals.map((a) => a.text));
    expect(endedAt).toBe(0);
    const result = await pending;
    expect(result.exitCode).toBe(0);
    expect(arrivals.map((a) => a.text).join("")).toBe("hi\n\x1ebye\n");
    expect(seen.join("")).toBe("hi\n");
  });

  it("ends a command when what it left running closes its output, as an exec would, so output never lands in the next command", async () => {
    const left = await run("(sleep 1; echo late; echo late-err >&2) & echo early");
    expect(left).toMatchObject({ stdout: "early\nlate\n", stderr: "late-err\n", exitCode: 0 });
    const detached = await run(`nohup sleep ${S + 9} </dev/null >/dev/null 2>&1 & echo detached`);
    expect(detached).toMatchObject({ stdout: "detached\n", exitCode: 0 });
    // The background shell may not have become `sleep` yet when the command returns.
    await eventually("the detached sleep to be running", async () => (await remoteProcesses(sleeps(9))).length === 1);
    expect((await run("echo next")).stdout).toBe("next\n");
    await conn.capture(`pkill -x -f 'sleep ${S + 9}'`);
  });

  it("carries large output whole", async () => {
    const big = await run("head -c 3000000 /dev/zero | tr '\\0' 'x'; echo; echo end");
    expect(big.stdout.length).toBe(3_000_000 + 1 + 4);
    expect(big.stdout.endsWith("x\nend\n")).toBe(true);
  });

  it("runs the user's login shell, and a command's own exit or exec leaves the session alive", async () => {
    expect((await run("exec true")).exitCode).toBe(0);
    expect((await run('echo "$HOME"')).stdout.trim()).toBe(ssh.hosts[0]!.home);
    expect((await run("echo still here")).stdout).toBe("still here\n");
  });

  it("stops a command and every process it started, and stays usable", async () => {
    const controller = new AbortController();
    const pending = run(`sleep ${S + 3} & sh -c 'sleep ${S + 4}'; wait`, controller.signal);
    await eventually("the sleeps to run", async () => (await remoteProcesses(sleeps(3, 4))).length === 2);
    controller.abort();
    const result = await pending;
    expect(result.signal).toBe("TERM");
    expect(result.exitCode).toBeNull();
    await eventually("no sleep left", async () => (await remoteProcesses(sleeps(3, 4))).length === 0);
    expect((await run("echo alive")).stdout).toBe("alive\n");
  });

  it("also stops what left the command's session, and what ignores TERM", async () => {
    const controller = new AbortController();
    const pending = run(`setsid sleep ${S + 5} </dev/null >/dev/null 2>&1 & sh -c 'trap "" TERM; sleep ${S + 6}'; wait`, controller.signal);
    await eventually("the sleeps to run", async () => (await remoteProcesses(sleeps(5, 6))).length === 2);
    controller.abort();
    const result = await pending;
    expect(result.signal).toBe("KILL");
    await eventually("no sleep left", async () => (await remoteProcesses(sleeps(5, 6))).length === 0);
    expect((await run("echo alive")).stdout).toBe("alive\n");
  });

  it("kills what the command detached and that ignores TERM, also after the command has ended", async () => {
    const controller = new AbortController();
    const pending = run(`setsid sh -c 'trap "" TERM; sleep ${S + 10}' </dev/null >/dev/null 2>&1 & sleep ${S + 11}`, controller.signal);
    await eventually("the sleeps to run", async () => (await remoteProcesses(sleeps(10, 11))).length === 2);
    controller.abort();
    expect((await pending).signal).toBe("TERM");
    await eventually("no sleep left", async () => (await remoteProcesses(sleeps(10, 11))).length === 0);
    expect((await run("echo alive")).stdout).toBe("alive\n");
  });

  it("also stops a descendant that cleared its environment", async () => {
    const controller = new AbortController();
    const pending = run(`env -i /bin/sh -c 'sleep ${S + 1}' & sleep ${S + 2}; wait`, controller.signal);
    await eventually("the sleeps to run", async () => (await remoteProcesses(sleeps(1, 2))).length === 2);
    controller.abort();
    expect((await pending).signal).toBe("TERM");
    await eventually("no sleep left", async () => (await remoteProcesses(sleeps(1, 2))).length === 0);
  });

  it("still stops a command when what an earlier command left behind writes into the session's output ahead of it", async () => {
    // The leftover opens the session's output through a later command's /proc/PID/fd/1 (that
    // command's process is the user's own, and dumpable), keeps it, and writes lines that look like
    // the runner's pid line every 2 ms: they arrive before the next commands' own pid lines too.
    const leftover = `perl -e 'my $s = shift; my $p; for (1 .. 300) { $p = qx(pgrep -x -f "sleep $s"); chomp $p; last if $p; select(undef, undef, undef, 0.1) } exit 1 unless $p; open(my $o, ">", "/proc/$p/fd/1") or exit 1; my $was = select($o); $| = 1; select($was); for (1 .. 5000) { print $o "\\036testum-pid 999999\\n" or exit 0; select(undef, undef, undef, 0.002) } # leftover ${S}' ${S + 20}`;
    try {
      expect((await run(`setsid ${leftover} </dev/null >/dev/null 2>&1 & echo started`)).stdout).toBe("started\n");
      const second = new AbortController();
      const secondRun = run(`sleep ${S + 20}`, second.signal);
      await eventually("the second command to run", async () => (await remoteProcesses(sleeps(20))).length === 1);
      await eventually("the leftover to write into the session", async () => (await remoteProcesses(new RegExp(`leftover ${S}`))).length === 1);
      await new Promise((r) => setTimeout(r, 500));
      second.abort();
      expect((await secondRun).stdout).toContain("testum-pid 999999");

      for (const k of [21, 22, 23]) {
        const controller = new AbortController();
        const started: number[] = [];
        const out: Buffer[] = [];
        const pending = shell.run(
          `sleep ${S + k}`,
          { onStdout: (c) => void out.push(c), onStderr: () => {} },
          { signal: controller.signal, graceMs: 1000, onStarted: (pid) => void started.push(pid) },
        );
        await eventually("the command to run", async () => (await remoteProcesses(sleeps(k))).length === 1);
        controller.abort();
        expect((await pending).signal).toBe("TERM");
        // Its own pid, not the leftover's lines, and what the leftover wrote is output.
        expect(started).toHaveLength(1);
        expect(started[0]).not.toBe(999999);
        await eventually("no sleep left", async () => (await remoteProcesses(sleeps(k))).length === 0);
      }
    } finally {
      await conn.capture(`pkill -f 'leftover ${S}'; true`);
    }
  }, 60_000);

  it("leaves alone the same user's processes that the command did not start", async () => {
    const other = await conn.capture(`nohup sleep ${S + 7} </dev/null >/dev/null 2>&1 & echo started`);
    expect(other.stdout).toBe("started\n");
    const controller = new AbortController();
    const pending = run(`sleep ${S + 8}`, controller.signal);
    await eventually("the command's sleep to run", async () => (await remoteProcesses(sleeps(8))).length === 1);
    controller.abort();
    expect((await pending).signal).toBe("TERM");
    expect(await remoteProcesses(sleeps(7))).toHaveLength(1);
    await conn.capture(`pkill -x -f 'sleep ${S + 7}'`);
  });
});
