import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "./helpers/sshd.js";
import { startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";

const started: TestumUnderTest[] = [];
const slack = { SLACK_SIGNING_SECRET: "secret-for-this-test", SLACK_BOT_TOKEN: "xoxb-unused", SLACK_API_URL: "http://127.0.0.1:9/api/" };

afterAll(async () => {
  for (const t of started) await t.stop();
});

describe("where the playground is served", () => {
  it("is off when a chat platform is configured", async () => {
    const testum = await startTestumForTest({ env: { ...slack, HOST: "127.0.0.1" } });
    started.push(testum);
    expect((await fetch(`${testum.url}/`)).status).toBe(404);
    expect((await fetch(`${testum.url}/playground/api/messages?as=local:alice`)).status).toBe(404);
  });

  it("with PLAYGROUND=on runs beside the platform, on its own port on 127.0.0.1", async () => {
    const port = await freePort();
    const testum = await startTestumForTest({ env: { ...slack, HOST: "127.0.0.1", PLAYGROUND: "on", PLAYGROUND_PORT: String(port) } });
    started.push(testum);
    expect((await fetch(`${testum.url}/`)).status).toBe(404);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>testum</title>");
  });

  it("refuses actions without the page's header, so another site cannot act through a browser", async () => {
    const testum = await startTestumForTest();
    started.push(testum);
    const body = JSON.stringify({ as: "local:admin", text: "/testum whoami" });
    const forged = await fetch(`${testum.url}/playground/api/command`, { method: "POST", headers: { "content-type": "text/plain" }, body });
    expect(forged.status).toBe(401);
    const ok = await fetch(`${testum.url}/playground/api/command`, { method: "POST", headers: { "content-type": "application/json", "x-testum-playground": "1" }, body });
    expect(ok.status).toBe(200);
    const unknown = await fetch(`${testum.url}/playground/api/command`, { method: "POST", headers: { "content-type": "application/json", "x-testum-playground": "1" }, body: JSON.stringify({ as: "local:mallory", text: "/testum whoami" }) });
    expect(unknown.status).toBe(400);
  });
});
