// Real OpenSSH test hosts for integration tests.
//
// Every host is its own `/usr/sbin/sshd -D` listener on 127.0.0.1 with its own host key,
// its own home directory and its own authorized_keys file, so that code which manages keys
// or files over SSH sees N distinct machines even though they all share this one box and
// one login user (`testum-ssh`).
//
// Contract for a login session on a host:
//   - $HOME, `cd ~`, `cd` and the starting working directory are the host's own home;
//   - SHLVL=1 and TESTUM_SSHD_HOST=<host dir> are set (the latter lets the harness attribute
//     and reap every process started on the host, even ones that double-forked away);
//   - client-sent variables named LANG, LC_* and TESTUM_* are accepted (ssh2 `exec` `env`).
//
// ensureTestUser() needs root (useradd/chpasswd); the hosts need root to run sshd.

import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { connect as netConnect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Client, type ConnectConfig } from "ssh2";

export const SSH_TEST_USER = "testum-ssh" as const;
export const SSH_TEST_PASSWORD = "testum-ssh-password";
export const SSH_TEST_USER_HOME = "/home/testum-ssh";
const SSH_TEST_SHELL = "/bin/sh";
const SSHD = "/usr/sbin/sshd";
const SFTP_SERVER = "/usr/lib/openssh/sftp-server";
const TMP_PREFIX = "/tmp/testum-sshd-";
/** Environment variable every session process on a test host carries; its value is the host's dir. */
export const HOST_MARKER_VAR = "TESTUM_SSHD_HOST";

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the remote command was ended by a signal. */
  code: number | null;
  signal: string | null;
}

export interface ExecOptions {
  /** Sent as SSH env requests; only LANG, LC_* and TESTUM_* are accepted by the hosts. */
  env?: Record<string, string>;
  /** Default 30 s. */
  timeoutMs?: number;
}

export interface RemoteProcess {
  pid: number;
  ppid: number;
  /** argv joined with spaces, as `pgrep -af` shows it. */
  command: string;
  /** Name of the test host (of this process's sets) that the process was started on, if known. */
  host: string | undefined;
  /** Value of TESTUM_SSHD_HOST in the process's environment, if any. */
  hostDir: string | undefined;
}

export interface SshHost {
  readonly name: string;
  /** The address sshd listens on (inside `netns` when the set has one). */
  readonly host: string;
  readonly port: number;
  /** Per-host directory holding sshd_config, the host key and the home directory. */
  readonly dir: string;
  /** The host's login home ($HOME and starting directory of every session). */
  readonly home: string;
  readonly authorizedKeysPath: string;
  readonly hostKeyPath: string;
  /** 'SHA256:…' exactly as `ssh-keygen -lf` prints it; changes after regenerateHostKey(). */
  readonly hostKeyFingerprint: string;
  /** OpenSSH public key line without comment: 'ssh-ed25519 AAAA…'. */
  readonly hostPublicKey: string;
  /** PID of the sshd listener while running. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** New host key, sshd restarted on the same port; resolves to the new fingerprint. */
  regenerateHostKey(): Promise<string>;
  /** Takes the host down like a power-off: the listener and every session process on it. */
  stop(): Promise<void>;
  /** Starts sshd again on the same port with the current host key. */
  start(): Promise<void>;
  /** Runs a command as testum-ssh with the set's client key (host key is verified). */
  exec(cmd: string, options?: ExecOptions): Promise<ExecResult>;
  /** ssh2 connection settings for this host: client key auth and a pinned host key. */
  connectConfig(overrides?: Partial<ConnectConfig>): ConnectConfig;
  /** Processes started on this host whose command line matches (see remoteProcesses). */
  processes(pattern?: string | RegExp): Promise<RemoteProcess[]>;
}

export interface SshHostSet {
  hosts: SshHost[];
  user: typeof SSH_TEST_USER;
  password: string;
  /** Temp dir of the whole set, removed by stop(). */
  dir: string;
  clientKeyPath: string;
  /** OpenSSH private key (PEM-like text), accepted by ssh2's `privateKey`. */
  clientPrivateKey: string;
  /** 'ssh-ed25519 AAAA… comment' */
  clientPublicKey: string;
  stop(): Promise<void>;
}

export interface StartSshHostsOptions {
  /** Host names are `${namePrefix}-NN`; default 'host'. */
  namePrefix?: string;
  /** Default true. */
  passwordAuthentication?: boolean;
  /** Pre-install the set's client public key on every host; default true. */
  authorizeClientKey?: boolean;
  /** Extra sshd_config lines, appended after the harness's own. */
  extraConfig?: string[];
  /** Per-host start-up deadline; default 30 s. */
  startTimeoutMs?: number;
  /**
   * Runs the hosts inside this network namespace (see hidden-net.ts): nothing
   * outside it reaches them unless a port is exposed. Default: none.
   */
  netns?: string;
  /** The address sshd listens on; default 127.0.0.1. */
  listenAddress?: string;
}

// ---------------------------------------------------------------------------------------------
// small process utilities

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

async function runOk(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // Orphans are reparented to an init that may not reap them: a zombie counts as dead.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL whatever is still alive after graceMs. */
async function terminate(pids: Iterable<number>, graceMs = 1500): Promise<void> {
  let alive = [...new Set(pids)].filter(isAlive);
  for (const pid of alive) signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(20);
    alive = alive.filter(isAlive);
  }
  for (const pid of alive) signal(pid, "SIGKILL");
  const killDeadline = Date.now() + 2000;
  while (alive.length > 0 && Date.now() < killDeadline) {
    await sleep(10);
    alive = alive.filter(isAlive);
  }
}

// ---------------------------------------------------------------------------------------------
// test user

interface PasswdEntry {
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

function lookupTestUser(): PasswdEntry | undefined {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === SSH_TEST_USER && f.length >= 7) {
      return { uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
    }
  }
  return undefined;
}

function requireTestUser(): PasswdEntry {
  const user = lookupTestUser();
  if (!user) throw new Error(`user ${SSH_TEST_USER} does not exist: call ensureTestUser() first (global setup)`);
  return user;
}

/**
 * Creates the login user of the test hosts (shell /bin/sh, home /home/testum-ssh, password
 * SSH_TEST_PASSWORD). Idempotent and safe to run from several processes at once: useradd and
 * chpasswd failures caused by a concurrent run (user exists, passwd/shadow locked) are retried.
 */
export async function ensureTestUser(): Promise<void> {
  let lastError = "";
  for (let attempt = 0; attempt < 40; attempt++) {
    if (attempt > 0) await sleep(50 + Math.random() * 100);
    const user = lookupTestUser();
    if (!user) {
      const r = await run("useradd", ["-m", "-d", SSH_TEST_USER_HOME, "-s", SSH_TEST_SHELL, "-c", "testum SSH test hosts", SSH_TEST_USER]);
      // exit 9 = already exists (a concurrent run won); anything else may be a lock, so look again.
      if (r.code !== 0) lastError = r.stderr.trim();
      continue;
    }
    if (user.shell !== SSH_TEST_SHELL) {
      const r = await run("usermod", ["-s", SSH_TEST_SHELL, SSH_TEST_USER]);
      if (r.code !== 0) {
        lastError = r.stderr.trim();
        continue;
      }
    }
    if (!existsSync(user.home)) {
      await mkdir(user.home, { recursive: true, mode: 0o755 });
      await chown(user.home, user.uid, user.gid);
    }
    // Also unlocks the account: sshd refuses even key logins for a locked ('!') password.
    const r = await run("chpasswd", [], `${SSH_TEST_USER}:${SSH_TEST_PASSWORD}\n`);
    if (r.code !== 0) {
      lastError = r.stderr.trim();
      continue;
    }
    return;
  }
  throw new Error(`ensureTestUser: could not set up ${SSH_TEST_USER}: ${lastError}`);
}

// ---------------------------------------------------------------------------------------------
// ports, keys

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("freePort: no port"))));
    });
  });
}

// Ports handed to hosts of this process, so that parallel start-ups never get the same one.
const reservedPorts = new Set<number>();

async function reservePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await freePort();
    if (!reservedPorts.has(port)) {
      reservedPorts.add(port);
      return port;
    }
  }
  throw new Error("could not find a free port");
}

/** 'SHA256:…' of an OpenSSH public key line, the same string `ssh-keygen -lf` prints. */
export function fingerprintOfPublicKey(publicKeyLine: string): string {
  const blob = publicKeyLine.trim().split(/\s+/)[1];
  if (!blob) throw new Error(`not an OpenSSH public key: ${publicKeyLine}`);
  return fingerprintOfKeyBlob(Buffer.from(blob, "base64"));
}

/** Fingerprint of the raw key blob ssh2 passes to hostVerifier. */
export function fingerprintOfKeyBlob(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

async function generateKey(path: string, comment: string): Promise<{ privateKey: string; publicKey: string }> {
  await rm(path, { force: true });
  await rm(`${path}.pub`, { force: true });
  await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
  const [privateKey, publicKey] = await Promise.all([readFile(path, "utf8"), readFile(`${path}.pub`, "utf8")]);
  return { privateKey, publicKey: publicKey.trim() };
}

// ---------------------------------------------------------------------------------------------
// processes on the hosts

interface ProcInfo {
  pid: number;
  ppid: number;
  uid: number;
  zombie: boolean;
  command: string;
  environ: string[];
}

function parseStatus(status: string): { ppid: number; uid: number; zombie: boolean } {
  const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
  const zombie = /^State:\s+Z/m.test(status);
  return { ppid, uid, zombie };
}

function splitNul(raw: string): string[] {
  return raw.split("\0").filter((s) => s.length > 0);
}

/** Snapshot of /proc; environ is read only for processes of `environUid`. */
async function listProcesses(environUid: number | undefined): Promise<ProcInfo[]> {
  const entries = (await readdir("/proc")).filter((e) => /^\d+$/.test(e));
  const result = await Promise.all(
    entries.map(async (e): Promise<ProcInfo | undefined> => {
      const pid = Number(e);
      try {
        const status = parseStatus(await readFile(`/proc/${e}/status`, "utf8"));
        const command = splitNul(await readFile(`/proc/${e}/cmdline`, "utf8")).join(" ");
        const environ = environUid !== undefined && status.uid === environUid ? splitNul(await readFile(`/proc/${e}/environ`, "utf8").catch(() => "")) : [];
        return { pid, ...status, command, environ };
      } catch {
        return undefined; // exited while we looked
      }
    }),
  );
  return result.filter((p): p is ProcInfo => p !== undefined);
}

function listProcessesSync(environUid: number | undefined): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    try {
      const status = parseStatus(readFileSync(`/proc/${e}/status`, "utf8"));
      const command = splitNul(readFileSync(`/proc/${e}/cmdline`, "utf8")).join(" ");
      let environ: string[] = [];
      if (environUid !== undefined && status.uid === environUid) {
        try {
          environ = splitNul(readFileSync(`/proc/${e}/environ`, "utf8"));
        } catch {
          environ = [];
        }
      }
      out.push({ pid, ...status, command, environ });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function markerOf(p: ProcInfo): string | undefined {
  const entry = p.environ.find((v) => v.startsWith(`${HOST_MARKER_VAR}=`));
  return entry?.slice(HOST_MARKER_VAR.length + 1);
}

function descendantsOf(root: number, procs: ProcInfo[]): number[] {
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const out: number[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

// Hosts of this process by dir, to name the host a remote process belongs to.
const hostsByDir = new Map<string, SshdHost>();

function toRemote(p: ProcInfo): RemoteProcess {
  const hostDir = markerOf(p);
  return { pid: p.pid, ppid: p.ppid, command: p.command, hostDir, host: hostDir ? hostsByDir.get(hostDir)?.name : undefined };
}

async function testUserProcesses(): Promise<ProcInfo[]> {
  const { uid } = requireTestUser();
  return (await listProcesses(uid)).filter((p) => p.uid === uid && !p.zombie && p.pid !== process.pid);
}

/**
 * Live processes owned by testum-ssh whose command line matches `pattern` (a string is an
 * extended regex, like `pgrep -u testum-ssh -af <pattern>`). All test hosts share this machine,
 * so the result covers every host of every test process; filter on `host` / `hostDir`.
 * Note that `sleep 300 # marker` shows up on its `sh -c …` parent only; a marker that must
 * be found on the sleep itself belongs in its arguments or environment (processesWithMarker).
 */
export async function remoteProcesses(pattern: string | RegExp = /./): Promise<RemoteProcess[]> {
  const re = typeof pattern === "string" ? new RegExp(pattern) : pattern;
  return (await testUserProcesses()).filter((p) => re.test(p.command)).map(toRemote);
}

/** Live testum-ssh processes whose command line or environment (any NAME=value) contains `marker`. */
export async function processesWithMarker(marker: string): Promise<RemoteProcess[]> {
  return (await testUserProcesses()).filter((p) => p.command.includes(marker) || p.environ.some((v) => v.includes(marker))).map(toRemote);
}

// ---------------------------------------------------------------------------------------------
// hosts

interface SetContext {
  base: string;
  clientPrivateKey: string;
  passwordAuthentication: boolean;
  extraConfig: string[];
  startTimeoutMs: number;
  uid: number;
  gid: number;
  netns: string | undefined;
  listenAddress: string;
}

const exitCleanups = new Set<() => void>();
let exitHooksInstalled = false;

function runExitCleanups(): void {
  for (const fn of [...exitCleanups]) {
    try {
      fn();
    } catch {
      // best effort while the process dies
    }
  }
  exitCleanups.clear();
}

/**
 * Runs `fn` (synchronous) when the process exits, including on SIGTERM, SIGINT and SIGHUP:
 * vitest's forks pool ends its workers with SIGTERM (SIGKILL 500 ms later), which skips 'exit'
 * handlers. After cleaning up, a signal is re-raised with its default action unless someone
 * else also listens for it.
 */
export function onProcessExit(fn: () => void): void {
  exitCleanups.add(fn);
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on("exit", runExitCleanups);
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    const handler = () => {
      runExitCleanups();
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

// Live sshd listeners and set dirs of this process, reaped synchronously if it dies without stop().
const liveChildren = new Set<ChildProcess>();
const liveSetDirs = new Set<string>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  onProcessExit(() => {
    for (const child of liveChildren) if (child.pid) signal(child.pid, "SIGKILL");
    if (liveSetDirs.size === 0) return;
    const user = lookupTestUser();
    try {
      for (const p of listProcessesSync(user?.uid)) {
        const dir = markerOf(p);
        if (dir && [...liveSetDirs].some((base) => dir.startsWith(`${base}/`))) signal(p.pid, "SIGKILL");
      }
    } catch {
      // best effort at exit
    }
    for (const base of liveSetDirs) rmSync(base, { recursive: true, force: true });
  });
}

function probeBanner(port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket: Socket = netConnect({ host: "127.0.0.1", port });
    let data = "";
    const done = (value: string | undefined) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.on("error", () => done(undefined));
    socket.on("data", (chunk) => {
      data += chunk.toString("latin1");
      const nl = data.indexOf("\n");
      if (nl >= 0) done(data.slice(0, nl).trim());
    });
    socket.on("end", () => done(undefined));
  });
}

class SshdHost implements SshHost {
  hostKeyFingerprint = "";
  hostPublicKey = "";
  private child: ChildProcess | undefined;
  private output = "";
  private stopping: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly dir: string,
    public port: number,
    private readonly ctx: SetContext,
  ) {}

  get host(): string {
    return this.ctx.listenAddress;
  }
  get home(): string {
    return join(this.dir, "home");
  }
  get authorizedKeysPath(): string {
    return join(this.home, ".ssh", "authorized_keys");
  }
  get hostKeyPath(): string {
    return join(this.dir, "ssh_host_ed25519_key");
  }
  get configPath(): string {
    return join(this.dir, "sshd_config");
  }
  get pidFile(): string {
    return join(this.dir, "sshd.pid");
  }
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }
  get running(): boolean {
    return this.pid !== undefined;
  }

  async generateHostKey(): Promise<string> {
    const { publicKey } = await generateKey(this.hostKeyPath, `root@${this.name}`);
    this.hostPublicKey = publicKey.split(/\s+/).slice(0, 2).join(" ");
    this.hostKeyFingerprint = fingerprintOfPublicKey(publicKey);
    return this.hostKeyFingerprint;
  }

  private config(): string {
    return [
      `# testum test host ${this.name}`,
      `Port ${this.port}`,
      `ListenAddress ${this.ctx.listenAddress}`,
      `HostKey ${this.hostKeyPath}`,
      `PidFile ${this.pidFile}`,
      `AuthorizedKeysFile ${this.authorizedKeysPath}`,
      "PubkeyAuthentication yes",
      `PasswordAuthentication ${this.ctx.passwordAuthentication ? "yes" : "no"}`,
      "KbdInteractiveAuthentication no",
      "PermitRootLogin no",
      "UsePAM no",
      // The files live under /tmp (mode 1777), which StrictModes rejects.
      "StrictModes no",
      `AllowUsers ${SSH_TEST_USER}`,
      "MaxStartups 200:30:300",
      "MaxSessions 100",
      "LogLevel ERROR",
      "PrintMotd no",
      "PrintLastLog no",
      "X11Forwarding no",
      "AcceptEnv LANG LC_* TESTUM_*",
      // SetEnv is applied after sshd's own HOME=pw_dir, so it wins for $HOME (and for `cd ~`).
      `SetEnv HOME=${this.home} SHLVL=1 ${HOST_MARKER_VAR}=${this.dir}`,
      `Subsystem sftp ${SFTP_SERVER}`,
      // sshd chdir()s to the passwd home (/home/testum-ssh, shared by all hosts) before running
      // the session, so relative paths like `.ssh/authorized_keys` would escape the per-host
      // home. The forced command moves to $HOME and then runs exactly what the client asked
      // for (command, subsystem or login shell) with the user's shell, keeping exit status and
      // signals. The shell is exec'd by its basename because sshd itself runs `sh -c <command>`
      // with argv[0] = basename: process listings then look as on a real host.
      'ForceCommand cd "$HOME" 2>/dev/null; if [ -n "${SSH_ORIGINAL_COMMAND+x}" ]; then c=$SSH_ORIGINAL_COMMAND; unset SSH_ORIGINAL_COMMAND; exec "${SHELL##*/}" -c "$c"; fi; exec "${SHELL##*/}" -l',
      ...this.ctx.extraConfig,
      "",
    ].join("\n");
  }

  /** Launches sshd; on the first start a port lost to another process is replaced. */
  async launch(mayChangePort: boolean): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.launchOnce();
        return;
      } catch (error) {
        const bindFailure = /Bind to port|Cannot bind any address|Address already in use/.test(String(error));
        if (!mayChangePort || !bindFailure || attempt >= 5) throw error;
        reservedPorts.delete(this.port);
        this.port = await reservePort();
      }
    }
  }

  private async launchOnce(): Promise<void> {
    await writeFile(this.configPath, this.config(), { mode: 0o644 });
    await rm(this.pidFile, { force: true });
    this.output = "";
    const argv = [SSHD, "-D", "-e", "-f", this.configPath];
    // `ip netns exec` execs sshd in the namespace: the child's pid is sshd's own.
    const [command, ...args] = this.ctx.netns ? ["ip", "netns", "exec", this.ctx.netns, ...argv] : argv;
    const child = spawn(command!, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" },
    });
    this.child = child;
    liveChildren.add(child);
    child.on("exit", () => liveChildren.delete(child));
    // Keep the last few KB of sshd's stderr for error messages; never let it fill the pipe.
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString("utf8")).slice(-4096);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    // The harness must never keep the test process alive; the exit handler reaps sshd.
    child.unref();
    (child.stdout as unknown as Socket).unref();
    (child.stderr as unknown as Socket).unref();
    let spawnError: Error | undefined;
    child.on("error", (e) => (spawnError = e));

    const deadline = Date.now() + this.ctx.startTimeoutMs;
    const exited = () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null;
    const fail = (why: string) => new Error(`sshd ${this.name} on port ${this.port} ${why}: ${spawnError?.message ?? this.output.trim()}`);
    // sshd writes its pid file only after its listening socket is bound, so a banner seen after
    // that comes from this sshd and not from whoever else might hold the port.
    while (true) {
      if (exited()) throw fail("exited");
      if (Date.now() > deadline) {
        if (child.pid) signal(child.pid, "SIGKILL");
        throw fail("did not start in time");
      }
      const pidText = await readFile(this.pidFile, "utf8").catch(() => "");
      if (pidText.trim() === String(child.pid)) break;
      await sleep(10);
    }
    // A host inside a namespace cannot be reached from here; its pid file says it listens.
    if (this.ctx.netns) return;
    while (true) {
      const banner = await probeBanner(this.port, 2000);
      if (banner?.startsWith("SSH-2.0-")) return;
      if (exited()) throw fail("exited");
      if (Date.now() > deadline) {
        if (child.pid) signal(child.pid, "SIGKILL");
        throw fail("answered no SSH banner");
      }
      await sleep(20);
    }
  }

  async start(): Promise<void> {
    if (this.stopping) await this.stopping;
    if (this.running) return;
    await this.launch(false);
  }

  stop(): Promise<void> {
    return this.stopWith(undefined);
  }

  /** `procs` lets a whole set share one /proc snapshot instead of one scan per host. */
  stopWith(procs: ProcInfo[] | undefined): Promise<void> {
    this.stopping ??= this.doStop(procs).finally(() => (this.stopping = undefined));
    return this.stopping;
  }

  private async doStop(snapshot: ProcInfo[] | undefined): Promise<void> {
    const listener = this.pid;
    const procs = snapshot ?? (await listProcesses(lookupTestUser()?.uid));
    const victims = new Set<number>();
    if (listener !== undefined) {
      victims.add(listener);
      for (const pid of descendantsOf(listener, procs)) victims.add(pid);
    }
    // Session processes that left the listener's tree (double fork, nohup &) still carry the marker.
    for (const p of procs) if (markerOf(p) === this.dir) victims.add(p.pid);
    await terminate(victims);
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      const child = this.child;
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        setTimeout(resolve, 2000).unref();
      });
    }
  }

  async regenerateHostKey(): Promise<string> {
    const wasRunning = this.running;
    await this.stop();
    const fingerprint = await this.generateHostKey();
    if (wasRunning) await this.launch(false);
    return fingerprint;
  }

  connectConfig(overrides: Partial<ConnectConfig> = {}): ConnectConfig {
    return {
      host: this.host,
      port: this.port,
      username: SSH_TEST_USER,
      privateKey: this.ctx.clientPrivateKey,
      hostVerifier: (key: Buffer) => fingerprintOfKeyBlob(key) === this.hostKeyFingerprint,
      readyTimeout: 20_000,
      ...overrides,
    };
  }

  exec(cmd: string, options: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise<ExecResult>((resolve, reject) => {
      const conn = new Client();
      let settled = false;
      const finish = (error: Error | undefined, result?: ExecResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        conn.end();
        if (error) reject(error);
        else resolve(result!);
      };
      const timer = setTimeout(() => finish(new Error(`exec on ${this.name} timed out after ${timeoutMs} ms: ${cmd}`)), timeoutMs);
      conn.on("error", (e) => finish(new Error(`ssh to ${this.name} (port ${this.port}): ${e.message}`)));
      conn.on("ready", () => {
        conn.exec(cmd, options.env ? { env: options.env } : {}, (err, stream) => {
          if (err) return finish(err);
          let stdout = "";
          let stderr = "";
          let code: number | null = null;
          let sig: string | null = null;
          stream.setEncoding("utf8");
          stream.stderr.setEncoding("utf8");
          stream.on("data", (d: string) => (stdout += d));
          stream.stderr.on("data", (d: string) => (stderr += d));
          stream.on("exit", (c: number | null, s?: string) => {
            code = c ?? null;
            sig = s ?? null;
          });
          stream.on("close", () => finish(undefined, { stdout, stderr, code, signal: sig }));
        });
      });
      conn.connect(this.connectConfig());
    });
  }

  async processes(pattern: string | RegExp = /./): Promise<RemoteProcess[]> {
    return (await remoteProcesses(pattern)).filter((p) => p.hostDir === this.dir);
  }
}

/**
 * Kills the sshd processes and session processes of sets whose owning test process is gone
 * (crashed or killed before stop()), and removes their temp dirs.
 */
export async function sweepStaleSshHosts(): Promise<void> {
  const names = (await readdir("/tmp")).filter((n) => `/tmp/${n}`.startsWith(TMP_PREFIX));
  const stale: string[] = [];
  for (const n of names) {
    const base = `/tmp/${n}`;
    const owner = Number((await readFile(join(base, "owner.pid"), "utf8").catch(() => "")).trim());
    if (owner && owner !== process.pid && !isAlive(owner)) stale.push(base);
  }
  if (stale.length === 0) return;
  const procs = await listProcesses(lookupTestUser()?.uid);
  const victims = new Set<number>();
  for (const p of procs) {
    const inStale = (s: string) => stale.some((base) => s.includes(`${base}/`));
    // A listener's title reads "sshd: /usr/sbin/sshd -D -e -f <dir>/sshd_config [listener] …".
    if (p.command.includes(`${SSHD} -D -e -f `) && inStale(p.command)) {
      victims.add(p.pid);
      for (const d of descendantsOf(p.pid, procs)) victims.add(d);
    }
    const marker = markerOf(p);
    if (marker && inStale(marker)) victims.add(p.pid);
  }
  await terminate(victims, 500);
  await Promise.all(stale.map((base) => rm(base, { recursive: true, force: true })));
}

/**
 * Starts `count` sshd test hosts in parallel and resolves once every one of them answers the
 * SSH banner. Requires root and ensureTestUser().
 */
export async function startSshHosts(count: number, options: StartSshHostsOptions = {}): Promise<SshHostSet> {
  if (!Number.isInteger(count) || count < 1) throw new Error(`startSshHosts: bad count ${count}`);
  const user = requireTestUser();
  const prefix = options.namePrefix ?? "host";
  installExitHandler();
  await mkdir("/run/sshd", { recursive: true });
  await chmod("/run/sshd", 0o755);
  await sweepStaleSshHosts().catch(() => undefined);

  const base = await mkdtemp(TMP_PREFIX);
  liveSetDirs.add(base);
  // testum-ssh must be able to reach its per-host homes below this dir.
  await chmod(base, 0o755);
  await writeFile(join(base, "owner.pid"), `${process.pid}\n`);

  const hosts: SshdHost[] = [];
  const stopAll = async () => {
    const procs = await listProcesses(user.uid);
    await Promise.all(hosts.map((h) => h.stopWith(procs)));
    for (const h of hosts) {
      reservedPorts.delete(h.port);
      hostsByDir.delete(h.dir);
    }
    await rm(base, { recursive: true, force: true });
    liveSetDirs.delete(base);
  };

  try {
    const clientKeyPath = join(base, "client_ed25519");
    const client = await generateKey(clientKeyPath, `testum-client@${randomBytes(3).toString("hex")}`);
    const ctx: SetContext = {
      base,
      clientPrivateKey: client.privateKey,
      passwordAuthentication: options.passwordAuthentication ?? true,
      extraConfig: options.extraConfig ?? [],
      startTimeoutMs: options.startTimeoutMs ?? 30_000,
      uid: user.uid,
      gid: user.gid,
      netns: options.netns,
      listenAddress: options.listenAddress ?? "127.0.0.1",
    };
    const width = Math.max(2, String(count).length);
    const authorize = options.authorizeClientKey ?? true;

    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const name = `${prefix}-${String(i + 1).padStart(width, "0")}`;
        const dir = join(base, name);
        const host = new SshdHost(name, dir, await reservePort(), ctx);
        hosts.push(host);
        hostsByDir.set(dir, host);
        await mkdir(join(host.home, ".ssh"), { recursive: true });
        await chmod(dir, 0o755);
        await chmod(join(host.home, ".ssh"), 0o700);
        await writeFile(host.authorizedKeysPath, authorize ? `${client.publicKey}\n` : "", { mode: 0o600 });
        for (const p of [host.home, join(host.home, ".ssh"), host.authorizedKeysPath]) await chown(p, ctx.uid, ctx.gid);
        await host.generateHostKey();
        await host.launch(true);
      }),
    );
    hosts.sort((a, b) => a.name.localeCompare(b.name));

    let stopped: Promise<void> | undefined;
    return {
      hosts,
      user: SSH_TEST_USER,
      password: SSH_TEST_PASSWORD,
      dir: base,
      clientKeyPath,
      clientPrivateKey: client.privateKey,
      clientPublicKey: client.publicKey,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}
