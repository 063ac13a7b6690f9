// A testum deployment for fault tests: testum processes run as child processes
// (`testum start|serve|worker`), so they can be killed with SIGKILL or SIGTERM,
// against a database reached through a TCP proxy, a redis-server of the test's
// own, S3 (s3rver) behind a proxy, a fake Slack and real sshd hosts. The
// machine's Postgres and Redis are never stopped or reconfigured.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Sql } from "../../src/core/db.js";
import { addHost } from "../../src/core/hosts/hosts.js";
import { DEFAULT_BOT_TOKEN, DEFAULT_TEAM_ID, startFakeSlack, type FakeSlack } from "../fakes/slack-api.js";
import { createTestDatabase } from "../helpers/db.js";
import { startRedisServer, type TestRedisServer } from "../helpers/redis-server.js";
import { startS3, type TestS3 } from "../helpers/s3.js";
import { postSignedSlack, slashCommandBody } from "../helpers/slack-sign.js";
import { blockText, CHANNEL } from "../helpers/slack-world.js";
import { freePort, onProcessExit, startSshHosts, type SshHostSet } from "../helpers/sshd.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { eventually, TEST_MASTER_KEY } from "../helpers/testum.js";
import { testBox } from "../helpers/hosts.js";

export const SIGNING_SECRET = "fault-signing-secret-0123456789abcdef";
export const ADMIN = "U0ADMIN0001";

export interface TestumProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly logs: string[];
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<number | string>;
  readonly running: boolean;
}

export interface FaultWorld {
  readonly slack: FakeSlack;
  readonly ssh: SshHostSet;
  readonly s3: TestS3;
  readonly s3Proxy: TcpProxy;
  readonly pgProxy: TcpProxy;
  readonly redis: TestRedisServer;
  /** A connection of the test's own, straight to Postgres (not through the proxy). */
  readonly sql: Sql;
  /** Starts `testum start|serve|worker`; resolves once it is up. */
  spawn(kind: "start" | "serve" | "worker", env?: Record<string, string>): Promise<TestumProcess>;
  /** Sends `/testum TEXT` to a web process; resolves with every word of the answer (a late one too). */
  slash(web: TestumProcess, text: string): Promise<{ status: number; text: string }>;
  addHost(name: string, index: number, address?: { address: string; port: number }): Promise<void>;
  job(id: number): Promise<{ id: number; status: string; error: string | null; parentMessage: string | null; thread: string | null; worker: string | null }>;
  tasks(id: number): Promise<Array<{ hostName: string; status: string; exitCode: number | null; error: string | null; logKey: string | null; tail: string | null }>>;
  finished(id: number, timeoutMs?: number): Promise<{ id: number; status: string; error: string | null }>;
  /** Text of every message in the job's thread (parent included), as the channel shows it now. */
  threadText(id: number): Promise<string>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
onProcessExit(() => {
  for (const child of live) child.kill("SIGKILL");
});

export async function startFaultWorld(options: { hosts?: number; redisPersistence?: boolean } = {}): Promise<FaultWorld> {
  const [slack, s3, ssh, db, redis] = await Promise.all([
    startFakeSlack(),
    startS3(),
    startSshHosts(options.hosts ?? 1),
    createTestDatabase(),
    startRedisServer({ persistence: options.redisPersistence }),
  ]);
  const s3Proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(s3.endpoint).port) });
  const pgProxy = await startTcpProxy({ host: "127.0.0.1", port: 5432 });
  const dataDir = await mkdtemp(join(tmpdir(), "testum-fault-"));
  const dbName = new URL(db.url).pathname;
  const sql = connect(db.url, { max: 3 });
  const box = testBox();
  const prefix = `testum-fault-${randomBytes(4).toString("hex")}`;
  const processes: TestumProcess[] = [];

  async function spawnTestum(kind: "start" | "serve" | "worker", env: Record<string, string> = {}): Promise<TestumProcess> {
    const port = await freePort();
    const logs: string[] = [];
    const child = spawn(process.execPath, ["bin/testum.js", kind], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        DATABASE_URL: `postgres://postgres@127.0.0.1:${pgProxy.port}${dbName}`,
        REDIS_URL: redis.url,
        TESTUM_REDIS_PREFIX: prefix,
        PORT: String(port),
        HOST: "127.0.0.1",
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        TESTUM_DATA_DIR: dataDir,
        TESTUM_MASTER_KEY: TEST_MASTER_KEY,
        LOG_LEVEL: "info",
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_BOT_TOKEN: DEFAULT_BOT_TOKEN,
        SLACK_API_URL: slack.url,
        TESTUM_ADMINS: `slack:${DEFAULT_TEAM_ID}:${ADMIN}`,
        S3_ENDPOINT: s3Proxy.url,
        S3_BUCKET: s3.bucket,
        S3_REGION: s3.region,
        S3_ACCESS_KEY_ID: s3.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
        S3_FORCE_PATH_STYLE: "true",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
    let running = true;
    const exited = new Promise<number | string>((resolve) => {
      child.on("exit", (code, signal) => {
        running = false;
        live.delete(child);
        resolve(code ?? signal ?? "unknown");
      });
    });
    const keep = (chunk: Buffer) => logs.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const ready = kind === "worker" ? /worker is running/ : /testum is listening/;
    await eventually(
      `testum ${kind} to start`,
      () => {
        if (!running) throw new Error(`testum ${kind} exited: ${logs.slice(-5).join("\n")}`);
        return logs.some((l) => ready.test(l));
      },
      60_000,
    );
    const proc: TestumProcess = {
      child,
      port,
      logs,
      exited,
      get running() {
        return running;
      },
    };
    processes.push(proc);
    return proc;
  }

  return {
    slack,
    ssh,
    s3,
    s3Proxy,
    pgProxy,
    redis,
    sql,
    spawn: spawnTestum,
    async slash(web, text) {
      const responseUrl = slack.newResponseUrl({ channel: CHANNEL, userId: ADMIN });
      const raw = slashCommandBody({
        text,
        teamId: DEFAULT_TEAM_ID,
        userId: ADMIN,
        userName: "admin",
        channelId: CHANNEL,
        responseUrl,
        triggerId: slack.issueTriggerId({ userId: ADMIN }),
      });
      const res = await postSignedSlack(`http://127.0.0.1:${web.port}/slack/events`, raw, SIGNING_SECRET);
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(res.body) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      if (typeof json?.text === "string" && json.text.includes("Working on it")) {
        json = (await eventually("the late reply", () => slack.responses().find((r) => r.url === responseUrl)?.body, 60_000)) as Record<string, unknown>;
      }
      const text2 = `${String(json?.text ?? res.body)}\n${blockText((json?.blocks as Record<string, unknown>[]) ?? [])}`;
      return { status: res.status, text: text2 };
    },
    async addHost(name, index, address) {
      const host = ssh.hosts[index]!;
      await addHost(sql, box, {
        name,
        address: address?.address ?? host.host,
        port: address?.port ?? host.port,
        username: ssh.user,
        credential: { type: "key", privateKey: ssh.clientPrivateKey },
        fingerprint: host.hostKeyFingerprint,
        createdBy: "test",
      });
    },
    async job(id) {
      const [job] = await sql<Array<{ id: number; status: string; error: string | null; parentMessage: string | null; thread: string | null; worker: string | null }>>`
        select id, status, error, parent_message, thread, worker from jobs where id = ${id}`;
      return job!;
    },
    tasks: (id) => sql`select host_name, status, exit_code, error, log_key, tail from job_tasks where job_id = ${id} order by host_name` as never,
    finished(id, timeoutMs = 60_000) {
      return eventually(
        `job #${id} to end`,
        async () => {
          const [job] = await sql<Array<{ id: number; status: string; error: string | null }>>`select id, status, error from jobs where id = ${id}`;
          return job && !["awaiting_approval", "queued", "running"].includes(job.status) ? job : undefined;
        },
        timeoutMs,
      );
    },
    async threadText(id) {
      const [job] = await sql<Array<{ parentMessage: string | null }>>`select parent_message from jobs where id = ${id}`;
      const ts = job?.parentMessage?.split(":")[3];
      if (!ts) return "";
      const messages = slack.messages(CHANNEL).filter((m) => m.ts === ts || m.threadTs === ts);
      return messages.map((m) => `${m.text}\n${blockText(m.blocks)}`).join("\n");
    },
    async stop() {
      for (const p of processes) if (p.running) p.child.kill("SIGKILL");
      await Promise.all(processes.map((p) => p.exited));
      await sql.end({ timeout: 5 });
      await Promise.all([slack.close(), s3Proxy.close(), pgProxy.close(), redis.stop()]);
      await Promise.all([s3.close(), ssh.stop(), db.drop(), rm(dataDir, { recursive: true, force: true })]);
    },
  };
}
