import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordAudits } from "../src/core/access/audit.js";
import { connect } from "../src/core/db.js";
import { createLogger } from "../src/logger.js";
import { createTestDatabase } from "./helpers/db.js";
import { ADMIN_IDENTITY, jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually, TEST_MASTER_KEY } from "./helpers/testum.js";

let world: SlackWorld;
const logLines: string[] = [];

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 1, testum: { logLines } });
  await world.addHost("web-1", world.ssh.hosts[0]!);
});

afterAll(async () => {
  await world?.stop();
});

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (d: Buffer) => (text += d.toString()));
  return { stream, text: () => text };
}

describe("testum's log", () => {
  it("is JSON lines unless asked for pretty lines, and redacts secrets in both", async () => {
    const json = collect();
    createLogger("info", { format: "json", destination: json.stream }).info({ job: 7, token: "xoxb-secret" }, "hello");
    const line = JSON.parse(json.text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ msg: "hello", job: 7, token: "[redacted]", app: "testum", level: 30 });

    const pretty = collect();
    createLogger("info", { format: "pretty", destination: pretty.stream }).info({ job: 7, token: "xoxb-secret" }, "hello");
    const text = await eventually("the pretty line", () => pretty.text() || undefined);
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: hello\n/);
    expect(text).toContain("job: 7");
    expect(text).not.toContain("xoxb-secret");
    expect(() => JSON.parse(text)).toThrow();
  });

  it("has one line when a job starts and one when it ends, with its id, requester, target, outcome and duration", async () => {
    const res = await world.slash("run web-1 'sleep 0.3; echo done'");
    const id = jobIdFrom(String(res.json?.text));
    const job = await world.finished(id);
    expect(job.status).toBe("succeeded");
    const entries = await eventually("the job's end line", () => {
      const mine = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.job === id && l.level === 30);
      return mine.some((l) => l.outcome) ? mine : undefined;
    });
    const start = entries.filter((l) => String(l.msg).startsWith(`job #${id} started`));
    const end = entries.filter((l) => l.outcome !== undefined);
    expect(start).toEqual([expect.objectContaining({ requester: ADMIN_IDENTITY, target: "web-1" })]);
    expect(end).toEqual([expect.objectContaining({ requester: ADMIN_IDENTITY, target: "web-1", outcome: "succeeded", hosts: 1 })]);
    expect(end[0]!.durationMs).toBeGreaterThanOrEqual(300);
    expect(end[0]!.msg).toMatch(new RegExp(`^job #${id} succeeded after \\d+\\.\\d s`));
  });
});

describe("the testum command", () => {
  it("prints its version", () => {
    const res = spawnText(["--version"]);
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    return expect(res).resolves.toMatchObject({ code: 0, stdout: `testum ${version}\n`, stderr: "" });
  });

  it("stops quietly when what reads its output goes away (testum … | head)", async () => {
    const db = await createTestDatabase();
    try {
      const sql = connect(db.url, { max: 1 });
      await recordAudits(
        sql,
        Array.from({ length: 2000 }, (_, i) => ({ actor: "cli:test", action: "host.add", target: `host-${i}`, outcome: "ok" })),
      );
      await sql.end();
      for (const args of [
        ["audit", "list", "--limit", "2000"],
        ["audit", "list", "--json", "--limit", "2000"],
      ]) {
        const child = spawn(process.execPath, ["bin/testum.js", ...args], {
          env: { ...process.env, DATABASE_URL: db.url, TESTUM_MASTER_KEY: TEST_MASTER_KEY },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        // Like `head -1`: read the first chunk, then close the pipe.
        await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
        child.stdout.destroy();
        const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
        expect({ args: args.join(" "), code, stderr }).toEqual({ args: args.join(" "), code: 0, stderr: "" });
      }
    } finally {
      await db.drop();
    }
  });
});

function spawnText(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/testum.js", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
