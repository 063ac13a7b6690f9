import { request } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "./helpers/sshd.js";
import { startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";

const started: TestumUnderTest[] = [];
const slack = { SLACK_SIGNING_SECRET: "secret-for-this-test", SLACK_BOT_TOKEN: "xoxb-unused", SLACK_API_URL: "http://127.0.0.1:9/api/" };

afterAll(async () => {
  for (const t of started) await t.stop();
});

interface Raw {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A request with exactly these headers (a browser's Host and Origin included), as a rebound page would send it. */
function raw(url: string, options: { method?: string; host?: string; origin?: string; cookie?: string; body?: unknown; page?: boolean } = {}): Promise<Raw> {
  const target = new URL(url);
  const headers: Record<string, string> = { host: options.host ?? target.host };
  if (options.origin) headers.origin = options.origin;
  if (options.cookie) headers.cookie = options.cookie;
  if (options.body !== undefined) Object.assign(headers, { "content-type": "application/json", "x-testum-playground": "1" });
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: options.method ?? "GET", headers }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(options.body === undefined ? undefined : JSON.stringify(options.body));
  });
}

/** Opens the start link; returns the cookie it sets. */
async function openStartLink(testum: TestumUnderTest): Promise<string> {
  const res = await raw(testum.running.playgroundUrl!);
  expect(res.status).toBe(303);
  expect(res.headers.location).toBe("/");
  const set = String(res.headers["set-cookie"]);
  expect(set).toMatch(/HttpOnly; SameSite=Strict; Path=\//);
  return set.split(";")[0]!;
}

describe("where the playground is served", () => {
  it("is off when a chat platform is configured", async () => {
    const testum = await startTestumForTest({ env: { ...slack, HOST: "127.0.0.1" } });
    started.push(testum);
    expect((await fetch(`${testum.url}/`)).status).toBe(404);
    expect((await fetch(`${testum.url}/playground/api/messages?as=local:alice`)).status).toBe(404);
  });

  it("with PLAYGROUND=on runs beside the platform, on its own port on 127.0.0.1, where local:* people are nobody", async () => {
    const port = await freePort();
    const testum = await startTestumForTest({ env: { ...slack, HOST: "127.0.0.1", PLAYGROUND: "on", PLAYGROUND_PORT: String(port) } });
    started.push(testum);
    expect((await fetch(`${testum.url}/`)).status).toBe(404);
    expect(testum.running.playgroundUrl).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?k=[A-Za-z0-9_-]{32}$`));
    const cookie = await openStartLink(testum);
    const page = await raw(`http://127.0.0.1:${port}/`, { cookie });
    expect(page.status).toBe(200);
    expect(page.body).toContain("<title>testum</title>");
    // Before, local:admin was an admin here next to real Slack.
    const origin = `http://127.0.0.1:${port}`;
    expect((await raw(`${origin}/playground/api/command`, { method: "POST", origin, cookie, body: { as: "local:admin", text: "/testum hosts add x1 u@10.0.0.1" } })).status).toBe(
      200,
    );
    const [row] = await testum.sql`select outcome from audit where actor = 'local:admin' order by seq desc limit 1`;
    expect(row!.outcome).toBe("refused");
    expect(await testum.sql`select 1 from role_bindings where subject like 'local:%'`).toHaveLength(0);
  });
});

describe("who may reach the playground", () => {
  it("refuses a DNS-rebound page, a request without the start key, another origin, and framing; the start link's holder gets in", async () => {
    const testum = await startTestumForTest();
    started.push(testum);
    const { port } = new URL(testum.url);
    const rebound = `rebind.attacker.example:${port}`;
    const act = { as: "local:admin", text: "/testum whoami" };
    // What a rebound browser sends: its own name in Host and Origin, and the page's header.
    const rebind = await raw(`${testum.url}/playground/api/command`, { method: "POST", host: rebound, origin: `http://${rebound}`, body: act });
    expect(rebind.status).toBe(421);
    expect(JSON.parse(rebind.body).error).toContain(`answers only at http://127.0.0.1:${port}/`);
    expect((await raw(`${testum.url}/playground/api/messages?as=local:admin`, { host: rebound })).status).toBe(421);
    // Right Host, no key (any other local user or program).
    const nokey = await raw(`${testum.url}/playground/api/command`, { method: "POST", origin: testum.url, body: act });
    expect(nokey.status).toBe(401);
    expect(JSON.parse(nokey.body).error).toContain("link testum printed when it started");
    const front = await raw(`${testum.url}/`);
    expect(front.status).toBe(401);
    expect(front.body).toContain("Open the playground with the link testum printed");
    expect((await raw(`${testum.url}/?k=not-the-key`)).body).toContain("not the current one");
    // With the key: another page's Origin is refused, the page's own is served.
    const cookie = await openStartLink(testum);
    expect((await raw(`${testum.url}/playground/api/command`, { method: "POST", origin: "http://evil.example", cookie, body: act })).status).toBe(403);
    expect((await raw(`${testum.url}/playground/api/command`, { method: "POST", cookie, body: act })).status).toBe(403);
    const ok = await raw(`${testum.url}/playground/api/command`, { method: "POST", origin: testum.url, cookie, body: act });
    expect(ok.status).toBe(200);
    const unknown = await raw(`${testum.url}/playground/api/command`, { method: "POST", origin: testum.url, cookie, body: { as: "local:mallory", text: "/testum whoami" } });
    expect(unknown.status).toBe(400);
    const page = await raw(`${testum.url}/`, { cookie });
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(page.headers["x-frame-options"]).toBe("DENY");
    // localhost names the same machine.
    expect((await raw(`${testum.url}/`, { host: `localhost:${port}`, cookie })).status).toBe(200);
    // Nothing ran for the refused requests: only the accepted whoami is in the audit trail... which whoami does not write.
    expect(await testum.sql`select 1 from audit where action = 'job.request'`).toHaveLength(0);
  });

  it("warns loudly, with the real addresses, when it listens beyond this machine", async () => {
    const lines: string[] = [];
    const testum = await startTestumForTest({ env: { PLAYGROUND_HOST: "0.0.0.0" }, logLines: lines });
    started.push(testum);
    const { port } = new URL(testum.url);
    const warning = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.msg.includes("REACHABLE FROM OTHER MACHINES"));
    expect(warning?.level).toBe(40);
    expect(warning!.msg).toContain("PLAYGROUND_HOST=0.0.0.0");
    expect(warning!.msg).not.toContain("localhost");
    expect(warning!.msg).toMatch(new RegExp(`http://[0-9a-f.:\\[\\]]+:${port}/`));
  });
});
