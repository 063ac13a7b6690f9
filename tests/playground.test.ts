import { mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { addHost } from "../src/core/hosts.js";
import { createSecretBox } from "../src/core/secret-box.js";
import { startSshHosts, type SshHostSet } from "./helpers/sshd.js";
import { startTestumForTest, TEST_MASTER_KEY, type TestumUnderTest } from "./helpers/testum.js";

let ssh: SshHostSet;
let testum: TestumUnderTest;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  ssh = await startSshHosts(1);
  // No Slack, no Discord: testum serves the playground.
  testum = await startTestumForTest({ runOptions: { sweepEveryMs: 500 } });
  await addHost(testum.sql, createSecretBox([Buffer.from(TEST_MASTER_KEY, "base64")]), {
    name: "web-1",
    address: "127.0.0.1",
    port: ssh.hosts[0]!.port,
    username: ssh.user,
    credential: { type: "key", privateKey: ssh.clientPrivateKey },
    createdBy: "test",
  });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  // The link testum prints at start: its key moves into a cookie and out of the address.
  await page.goto(testum.running.playgroundUrl!);
  expect(page.url()).toBe(`${testum.url}/`);
}, 120_000);

afterEach(async (context) => {
  // A picture of the page, only when a test failed.
  if (context.task.result?.state === "fail") {
    mkdirSync("test-results", { recursive: true });
    await page.screenshot({ path: `test-results/playground-${context.task.name.replace(/\W+/g, "-")}.png`, fullPage: true });
  }
});

afterAll(async () => {
  await browser?.close();
  await testum?.stop();
  await ssh?.stop();
});

async function send(text: string): Promise<void> {
  await page.fill("#input", text);
  await page.press("#input", "Enter");
}

describe("the playground in a real browser", () => {
  it("runs a command and shows live output and the final status", async () => {
    await page.selectOption("#as", "local:alice");
    await send("/testum run web-1 'echo first line; sleep 2; echo last line'");
    await page.waitForSelector("pre:has-text('first line')", { timeout: 20_000 });
    await page.waitForSelector(".heading:has-text('Running on web-1')");
    await page.waitForSelector(".heading:has-text('Succeeded on web-1')", { timeout: 30_000 });
    await page.waitForSelector("pre:has-text('last line')");
    expect(await page.textContent("main")).toContain("Job #1 queued on web-1");
  });

  it("asks for approval of a risky command and runs it after another identity approves", async () => {
    await page.selectOption("#as", "local:alice");
    await send("/testum run web-1 'rm -rf ~/playground-scratch; echo cleaned up'");
    await page.waitForSelector(".heading:has-text('Approval needed for job #2')", { timeout: 20_000 });
    await page.click("button[data-action='t1:approve:2']");
    await page.waitForSelector(".msg.private:has-text('you asked for job #2')");
    await page.selectOption("#as", "local:bob");
    await page.waitForSelector("button[data-action='t1:approve:2']");
    await page.click("button[data-action='t1:approve:2']");
    await page.waitForSelector(".heading:has-text('approved by bob')", { timeout: 20_000 });
    await page.waitForSelector(".heading:has-text('Succeeded on web-1')", { timeout: 30_000 });
    expect(await page.textContent("main")).toContain("cleaned up");
  });

  it("switches to Russian and to the dark theme", async () => {
    await page.selectOption("#lang", "ru");
    expect(await page.getAttribute("html", "lang")).toBe("ru");
    expect(await page.getAttribute("#input", "placeholder")).toMatch(/[а-яА-Я]/);
    await send("/testum help");
    await page.waitForSelector(".msg.private:has-text('Выполнить')", { timeout: 10_000 });
    await page.selectOption("#theme", "dark");
    expect(await page.getAttribute("html", "data-theme")).toBe("dark");
    const background = await page.evaluate("getComputedStyle(document.body).backgroundColor");
    expect(background).toBe("rgb(15, 18, 23)");
    await page.selectOption("#lang", "en");
    await page.selectOption("#theme", "light");
    expect(await page.evaluate("getComputedStyle(document.body).backgroundColor")).toBe("rgb(246, 247, 249)");
  });

  it("links a job page that shows the full log", async () => {
    const link = await page.getAttribute("a:has-text('Job page')", "href");
    expect(link).toMatch(/\/jobs\/\d+\?t=/);
    const jobPage = await browser.newPage();
    await jobPage.goto(link!);
    await jobPage.waitForSelector("pre.log:has-text('last line')", { timeout: 15_000 });
    expect(await jobPage.textContent("#status")).toBe("succeeded");
    await jobPage.close();
  });

  it("is usable at phone width", async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    const overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    expect(Number(overflow)).toBeLessThanOrEqual(0);
    expect(await page.isVisible("#input")).toBe(true);
  });
});
