// Pictures of the playground for the README: both themes, both languages, a real job on real
// SSH hosts. Run with `npm run screenshots` (needs what the tests need: PostgreSQL, Redis, sshd
// and chromium); the pictures go to docs/.
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import postgres from "postgres";
import { chromium, type Page } from "playwright-core";
import { addHost } from "../src/core/hosts/hosts.js";
import { createSecretBox } from "../src/core/hosts/secret-box.js";
import { databaseUrl } from "../tests/helpers/db.js";
import { ensureTestUser, startSshHosts } from "../tests/helpers/sshd.js";
import { startTestumForTest, TEST_MASTER_KEY } from "../tests/helpers/testum.js";

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

async function send(page: Page, text: string): Promise<void> {
  await page.fill("#input", text);
  await page.press("#input", "Enter");
}

async function shoot(lang: "en" | "ru"): Promise<void> {
  const ssh = await startSshHosts(3, { namePrefix: "web" });
  // A database of its own, made and migrated by testum's start as on a first run, dropped after.
  const database = `testum_screenshots_${randomBytes(4).toString("hex")}`;
  const testum = await startTestumForTest({ databaseUrl: databaseUrl(database) });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
  try {
    const box = createSecretBox([Buffer.from(TEST_MASTER_KEY, "base64")]);
    for (const [i, host] of ssh.hosts.entries()) {
      await addHost(testum.sql, box, { name: `web-${i + 1}`, address: "127.0.0.1", port: host.port, username: ssh.user, credential: { type: "key", privateKey: ssh.clientPrivateKey }, tags: { role: "web" }, createdBy: "setup" });
    }
    const page = await browser.newPage({ viewport: { width: 1100, height: 1100 }, deviceScaleFactor: 1 });
    await page.addInitScript(`localStorage.setItem("lang", ${JSON.stringify(lang)}); localStorage.setItem("as", "local:alice");`);
    await page.goto(testum.running.playgroundUrl!);
    await page.waitForSelector(".empty");
    await send(page, "/testum run web-1 'uname -sr; df -h / | tail -n 1'");
    await page.waitForSelector(".msg.success .heading", { timeout: 30_000 });
    await send(page, "/testum run role=web 'echo ok from $(hostname)'");
    await page.waitForFunction('document.querySelectorAll(".msg.success").length >= 3', undefined, { timeout: 30_000 });
    await send(page, "/testum run web-2 'rm -rf /tmp/build-cache'");
    await page.waitForSelector("button.primary[data-action*='approve']", { timeout: 30_000 });
    await page.waitForTimeout(500);
    await mkdir("docs", { recursive: true });
    for (const theme of ["light", "dark"] as const) {
      await page.selectOption("#theme", theme);
      await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)");
      await page.waitForTimeout(200);
      const path = `docs/playground-${theme}-${lang}.png`;
      await page.screenshot({ path });
      console.log(path);
    }
  } finally {
    await browser.close();
    await testum.stop();
    await ssh.stop();
    const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.end();
  }
}

await ensureTestUser();
for (const lang of ["en", "ru"] as const) await shoot(lang);
process.exit(0);
