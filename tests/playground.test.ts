import { mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { translate } from "../src/core/chat/i18n.js";
import { startSshHosts, type SshHostSet } from "./helpers/sshd.js";
import { startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";
import { addTestHost } from "./helpers/hosts.js";

const russian = (key: "status.succeeded" | "job.exit") => translate("ru", key);

// Functions passed to page.evaluate run in the browser; these are its globals as they see them.
interface PageNode {
  readonly textContent: string | null;
  readonly className: string;
  readonly parentElement: PageNode | null;
  readonly offsetParent: unknown;
  readonly clientHeight: number;
  readonly scrollHeight: number;
  scrollTop: number;
  mark?: number;
  getAttribute(name: string): string | null;
}
declare const document: { querySelector(s: string): PageNode | null; querySelectorAll(s: string): PageNode[]; documentElement: { scrollHeight: number } };
declare const window: { readonly scrollY: number; readonly innerHeight: number; scrollTo(x: number, y: number): void };
declare const getComputedStyle: (node: PageNode) => { color: string; backgroundColor: string };
type HTMLElement = PageNode;
type Element = PageNode;

let ssh: SshHostSet;
let testum: TestumUnderTest;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  ssh = await startSshHosts(1);
  // No Slack, no Discord: testum serves the playground.
  testum = await startTestumForTest({ runOptions: { sweepEveryMs: 500 } });
  await addTestHost(testum.sql, ssh, "web-1");
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
    // The key is in the path, never in the query.
    expect(link).toMatch(/\/jobs\/\d+\/[A-Za-z0-9_-]{20,64}$/);
    const jobPage = await browser.newPage();
    await jobPage.goto(link!);
    await jobPage.waitForSelector("pre.log:has-text('last line')", { timeout: 15_000 });
    expect(await jobPage.textContent("#status")).toBe("succeeded");
    expect(await jobPage.textContent(".task .host")).toContain("exit code 0");
    // Read in Russian, the page says its states in Russian too.
    await jobPage.evaluate(`localStorage.setItem("lang", "ru")`);
    await jobPage.reload();
    await jobPage.waitForSelector("pre.log:has-text('last line')", { timeout: 15_000 });
    expect(await jobPage.textContent("#status")).toBe(russian("status.succeeded"));
    expect(await jobPage.textContent(".task .host")).toContain(`${russian("job.exit").toLowerCase()} 0`);
    await jobPage.evaluate(`localStorage.removeItem("lang")`);
    await jobPage.close();
  });

  it("shows the person's own command above the answer, and only to them", async () => {
    await page.selectOption("#as", "local:alice");
    await send("/testum rnu web-1");
    const echo = page.locator(".msg.echo", { hasText: "/testum rnu web-1" }).last();
    await echo.waitFor({ timeout: 10_000 });
    expect(await echo.locator(".meta").textContent()).toContain("alice");
    // The answer comes right after it.
    const next = page.locator("section:has(.msg.echo:has-text('/testum rnu web-1')) + section .msg").first();
    await next.waitFor({ timeout: 10_000 });
    expect(await next.textContent()).toContain("rnu");
    await page.selectOption("#as", "local:bob");
    // The page redraws for bob: alice's echo goes and does not come back.
    await expect.poll(() => page.locator(".msg.echo", { hasText: "/testum rnu web-1" }).count(), { timeout: 10_000 }).toBe(0);
    await page.waitForSelector(".msg");
    expect(await page.locator(".msg.echo", { hasText: "/testum rnu web-1" }).count()).toBe(0);
    await page.selectOption("#as", "local:alice");
  });

  it("shows what was posted while the page was still connecting", async () => {
    // The page's live stream opens only once the command below has been answered.
    let release!: () => void;
    const answered = new Promise<void>((resolve) => (release = resolve));
    await page.route("**/playground/api/events*", async (route) => {
      await answered;
      await route.continue();
    });
    await page.selectOption("#as", "local:bob");
    const response = page.waitForResponse("**/playground/api/command");
    await send("/testum help hosts");
    await response;
    release();
    await page.locator(".msg.echo", { hasText: "/testum help hosts" }).last().waitFor({ timeout: 10_000 });
    await page.unroute("**/playground/api/events*");
    await page.selectOption("#as", "local:alice");
  });

  it("keeps the typed text when testum cannot be reached, and Up recalls what was sent", async () => {
    await page.route("**/playground/api/command", (route) => route.abort("connectionrefused"));
    await send("/testum run web-1 'echo kept'");
    await page.waitForFunction(() => document.querySelector("#status")?.textContent?.includes("Not sent"));
    expect(await page.inputValue("#input")).toBe("/testum run web-1 'echo kept'");
    await page.unroute("**/playground/api/command");
    await page.fill("#input", "");
    await page.press("#input", "ArrowUp");
    expect(await page.inputValue("#input")).toBe("/testum run web-1 'echo kept'");
    await page.fill("#input", "");
  });

  it("keeps the reader's place while a job streams, updates only that message and pins its output to the newest line", async () => {
    await page.setViewportSize({ width: 1100, height: 700 });
    await page.selectOption("#as", "local:alice");
    // Enough history above to scroll through.
    const answers = await page.locator(".msg.private").count();
    for (let i = 0; i < 3; i++) await send("/testum help run");
    await page.waitForFunction((n) => document.querySelectorAll(".msg.private").length >= n + 3, answers);
    await send("/testum run web-1 'for i in $(seq 1 300); do echo line $i; sleep 0.02; done'");
    const live = page.locator(".thread .msg", { hasText: "line 1" }).last();
    await live.waitFor({ timeout: 20_000 });
    // A message that does not change keeps its very node.
    await page.evaluate(() => ((document.querySelector("section.group .msg") as HTMLElement & { mark?: number }).mark = 1));

    // The reader scrolls up to read history: the page stays where they are.
    await page.evaluate(() => window.scrollTo(0, 0));
    const versions = await live.getAttribute("data-version");
    await page.waitForFunction(
      (v) => {
        const node = [...document.querySelectorAll(".thread .msg")].reverse().find((n) => n.textContent?.includes("line 1"));
        return node && Number(node.getAttribute("data-version")) >= Number(v) + 3;
      },
      versions,
      { timeout: 20_000 },
    );
    expect(await page.evaluate(() => window.scrollY)).toBe(0);
    expect(await page.evaluate(() => (document.querySelector("section.group .msg") as HTMLElement & { mark?: number }).mark)).toBe(1);

    // The output box, once it holds more than it shows, shows its newest line.
    await page.waitForFunction(() => {
      const pre = [...document.querySelectorAll(".thread .msg pre")].reverse().find((n) => n.textContent?.includes("line ")) as HTMLElement;
      return pre.scrollHeight > pre.clientHeight + 100;
    });
    const pinned = await page.evaluate(() => {
      const pre = [...document.querySelectorAll(".thread .msg pre")].reverse().find((n) => n.textContent?.includes("line ")) as HTMLElement;
      const last = pre.textContent!.trim().split("\n").at(-1)!;
      return { atEnd: pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4, scrolls: pre.scrollHeight > pre.clientHeight, last };
    });
    expect(pinned.scrolls).toBe(true);
    expect(pinned.atEnd).toBe(true);
    expect(pinned.last).toMatch(/^line \d+$/);

    // The reader scrolls the box up: it stays there while lines arrive.
    const box = live.locator("pre");
    await box.evaluate((pre) => (pre.scrollTop = 0));
    const before = Number(await live.getAttribute("data-version"));
    await page.waitForFunction(
      (v) => {
        const node = [...document.querySelectorAll(".thread .msg")].reverse().find((n) => n.textContent?.includes("line 1"));
        return node && Number(node.getAttribute("data-version")) >= v + 2;
      },
      before,
      { timeout: 20_000 },
    );
    expect(await live.locator("pre").evaluate((pre) => pre.scrollTop)).toBe(0);

    // Back at the bottom of the page, the page follows new output.
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await page.waitForSelector(".heading:has-text('Succeeded on web-1')", { timeout: 30_000 });
    await page.waitForFunction(() => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 40);
    await page.setViewportSize({ width: 1100, height: 900 });
  });

  it("draws status emoji as icons, so they show without an emoji font", async () => {
    const heading = page.locator(".heading", { hasText: "Succeeded on web-1" }).first();
    expect(await heading.locator("svg.icon").count()).toBe(1);
    expect(await heading.textContent()).not.toContain("✅");
  });

  it("gives every button a contrast of at least 4.5:1 in both themes", async () => {
    await page.selectOption("#as", "local:alice");
    await send("/testum run web-1 'rm -rf ~/contrast-scratch'");
    await page.waitForSelector(".heading:has-text('Approval needed')", { timeout: 20_000 });
    for (const theme of ["light", "dark"]) {
      await page.selectOption("#theme", theme);
      const ratios = await page.evaluate(() => {
        const channel = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        const lum = (c: string) => {
          const [r, g, b] = c
            .match(/[\d.]+/g)!
            .slice(0, 3)
            .map(Number);
          return 0.2126 * channel(r!) + 0.7152 * channel(g!) + 0.0722 * channel(b!);
        };
        const background = (n: Element | null): string => {
          for (; n; n = n.parentElement) {
            const c = getComputedStyle(n).backgroundColor;
            const parts = c.match(/[\d.]+/g);
            if (parts && (parts.length < 4 || Number(parts[3]) > 0)) return c;
          }
          return "rgb(255, 255, 255)";
        };
        return [...document.querySelectorAll("button")]
          .filter((b) => (b as HTMLElement).offsetParent !== null)
          .map((b) => {
            const fg = lum(getComputedStyle(b).color);
            const bg = lum(background(b));
            return { button: `${b.className || "plain"} ${b.textContent}`, ratio: (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05) };
          });
      });
      // The Send button, Approve (primary) and Reject (danger) at least.
      expect(ratios.some((r) => r.button.startsWith("primary"))).toBe(true);
      expect(ratios.some((r) => r.button.startsWith("danger"))).toBe(true);
      for (const r of ratios) expect({ theme, ...r, ok: r.ratio >= 4.5 }).toMatchObject({ ok: true });
    }
    await page.selectOption("#theme", "light");
  });

  it("is usable at phone width", async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    const overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    expect(Number(overflow)).toBeLessThanOrEqual(0);
    expect(await page.isVisible("#input")).toBe(true);
  });
});
