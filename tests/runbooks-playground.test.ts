import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addHost } from "../src/core/hosts/hosts.js";
import type { View } from "../src/core/chat/chat.js";
import { createSecretBox } from "../src/core/hosts/secret-box.js";
import { jobProbes } from "./helpers/jobs.js";
import { startSshHosts, type SshHostSet } from "./helpers/sshd.js";
import { eventually, startTestumForTest, TEST_MASTER_KEY, type TestumUnderTest } from "./helpers/testum.js";

/**
 * Runbooks from the playground (its own API, as its page calls it), with
 * TESTUM_MODE=allowlist: local:alice is an operator, local:admin an admin.
 */
let ssh: SshHostSet;
let testum: TestumUnderTest;
let cookie: string;
const MARKER = `/tmp/testum-rb-playground-${randomBytes(4).toString("hex")}`;

function call(path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const target = new URL(`${testum.url}${path}`);
  const headers: Record<string, string> = { host: target.host, origin: testum.url, cookie };
  if (body !== undefined) Object.assign(headers, { "content-type": "application/json", "x-testum-playground": "1" });
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: body === undefined ? "GET" : "POST", headers }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || "{}") as Record<string, unknown> }));
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const viewText = (view: View) => [view.text, ...view.blocks.map((b) => JSON.stringify(b))].join("\n");

/** Sends a command as `who` and returns the private answer it got. */
async function send(who: string, text: string): Promise<string> {
  const before = ((await call(`/playground/api/messages?as=${who}`)).json.messages as Array<{ id: number }>).map((m) => m.id);
  expect((await call("/playground/api/command", { as: who, text })).status).toBe(200);
  return eventually(`the answer to ${text}`, async () => {
    const messages = (await call(`/playground/api/messages?as=${who}`)).json.messages as Array<{ id: number; private: boolean; author: string | null; view: View }>;
    // testum's answer, not the echo of the person's own command above it.
    const answer = messages.find((m) => m.private && m.author === null && !before.includes(m.id));
    return answer ? viewText(answer.view) : undefined;
  });
}

async function outputOf(answer: string): Promise<string> {
  const probes = jobProbes(testum.sql);
  const job = await probes.finished(Number(/#(\d+)/.exec(answer)?.[1]));
  expect(job.status).toBe("succeeded");
  const [task] = await probes.tasks(job.id);
  return task!.tail ?? "";
}

beforeAll(async () => {
  ssh = await startSshHosts(1);
  testum = await startTestumForTest({ env: { TESTUM_MODE: "allowlist" } });
  await addHost(testum.sql, createSecretBox([Buffer.from(TEST_MASTER_KEY, "base64")]), {
    name: "web-1",
    address: "127.0.0.1",
    port: ssh.hosts[0]!.port,
    username: ssh.user,
    credential: { type: "key", privateKey: ssh.clientPrivateKey },
    createdBy: "test",
  });
  const start = await new Promise<string>((resolve, reject) => {
    const url = new URL(testum.running.playgroundUrl!);
    request({ host: url.hostname, port: url.port, path: url.pathname + url.search }, (res) => {
      res.resume();
      resolve(String(res.headers["set-cookie"]).split(";")[0]!);
    })
      .on("error", reject)
      .end();
  });
  cookie = start;
}, 120_000);

afterAll(async () => {
  await testum?.stop();
  await ssh?.stop();
});

describe("runbooks from the playground, in allowlist mode", () => {
  it("lets the admin add a runbook and the operator run it, with parameters as literal text", async () => {
    expect(await send("local:admin", `/testum runbook add grep-log web-1 'grep -c -F -- {pattern} /etc/hostname' --description 'Count matching lines'`)).toContain(
      "Runbook grep-log added",
    );
    expect(await send("local:admin", `/testum runbook add say web-1 'echo {msg}'`)).toContain("Runbook say added");
    for (const value of [`$(touch ${MARKER})`, `; touch ${MARKER}`, `\`touch ${MARKER}\``]) {
      expect(await outputOf(await send("local:alice", `/testum rb say 'msg=${value}'`))).toBe(value);
    }
    expect(existsSync(MARKER)).toBe(false);
  });

  it("refuses the operator's own commands and explains a bad parameter", async () => {
    expect(await send("local:alice", "/testum run web-1 'id'")).toContain("you need free-form (the free-form right)");
    expect(await send("local:alice", "/testum rb grep-log pattern=-v")).toContain(
      'parameter pattern got "-v", expected text of at most 1000 characters that does not start with -',
    );
    expect(await outputOf(await send("local:admin", "/testum run web-1 'echo admin may'"))).toBe("admin may");
    const [refused] = await testum.sql`select outcome, detail->>'right' as right from audit where actor = 'local:alice' and action = 'job.request' and outcome = 'refused'`;
    expect(refused).toEqual({ outcome: "refused", right: "free-form" });
  });
});
