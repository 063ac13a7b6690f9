import { chmodSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { ConfigError } from "./core/config.js";

const key = Buffer.alloc(32, 1).toString("base64");

describe("loadConfig", () => {
  it("has working defaults", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    const config = loadConfig({ TESTUM_DATA_DIR: dir });
    expect(config.DATABASE_URL).toBe("postgres://postgres@127.0.0.1:5432/testum");
    expect(config.REDIS_URL).toBe("redis://127.0.0.1:6379");
    expect(config.PORT).toBe(3000);
    expect(config.publicUrl).toBe("http://localhost:3000");
    expect(config.TESTUM_JOB_TIMEOUT).toBe(600_000);
    expect(config.TESTUM_LINK_TTL).toBe(30 * 86_400_000);
    expect(config.warnings[0]).toMatch(/TESTUM_MASTER_KEY is not set/);
    // The generated key is kept, private, and reused.
    const file = join(dir, "master.key");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, "utf8").trim(), "base64").equals(config.masterKey)).toBe(true);
    expect(loadConfig({ TESTUM_DATA_DIR: dir }).masterKey.equals(config.masterKey)).toBe(true);
  });

  it("names every bad variable and what it expects", () => {
    try {
      loadConfig({ TESTUM_MASTER_KEY: "short", PORT: "70000", TESTUM_JOB_TIMEOUT: "10", TESTUM_ADMINS: "bob", DATABASE_URL: "mysql://x" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const text = (err as ConfigError).problems.join("\n");
      expect(text).toMatch(/TESTUM_MASTER_KEY: expected 32 random bytes in base64/);
      expect(text).toMatch(/PORT: expected a port number/);
      expect(text).toMatch(/TESTUM_JOB_TIMEOUT: expected a duration/);
      expect(text).toMatch(/TESTUM_ADMINS: expected chat identities/);
      expect(text).toMatch(/DATABASE_URL: expected a URL like postgres/);
    }
  });

  it("requires the Slack and Discord settings in full", () => {
    expect(() => loadConfig({ TESTUM_MASTER_KEY: key, SLACK_BOT_TOKEN: "xoxb-1" })).toThrow(/SLACK_APP_TOKEN or SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN/);
    expect(() => loadConfig({ TESTUM_MASTER_KEY: key, SLACK_APP_TOKEN: "xapp-1" })).toThrow(/SLACK_BOT_TOKEN: required when SLACK_APP_TOKEN is set/);
    expect(() => loadConfig({ TESTUM_MASTER_KEY: key, SLACK_APP_TOKEN: "xoxb-1", SLACK_BOT_TOKEN: "xoxb-1" })).toThrow(
      /SLACK_APP_TOKEN: expected the app-level token, which starts with xapp-/,
    );
    expect(loadConfig({ TESTUM_MASTER_KEY: key, SLACK_APP_TOKEN: "xapp-1-A1", SLACK_BOT_TOKEN: "xoxb-1" }).SLACK_APP_TOKEN).toBe("xapp-1-A1");
    expect(() => loadConfig({ TESTUM_MASTER_KEY: key, DISCORD_BOT_TOKEN: "t" })).toThrow(/DISCORD_APPLICATION_ID: required/);
    expect(() => loadConfig({ TESTUM_MASTER_KEY: key, DISCORD_APPLICATION_ID: "12345678901234567", DISCORD_BOT_TOKEN: "t", DISCORD_TRANSPORT: "http" })).toThrow(
      /DISCORD_PUBLIC_KEY: required with DISCORD_TRANSPORT=http/,
    );
    expect(() => loadConfig({ TESTUM_MASTER_KEY: key, DISCORD_TRANSPORT: "websocket" })).toThrow(/DISCORD_TRANSPORT: expected gateway or http/);
    // Two values are enough for the Gateway.
    expect(loadConfig({ TESTUM_MASTER_KEY: key, DISCORD_APPLICATION_ID: "12345678901234567", DISCORD_BOT_TOKEN: "t" }).DISCORD_TRANSPORT).toBeUndefined();
  });

  it("takes TESTUM_LINK_TTL as a duration, and names it when it is not one", () => {
    expect(loadConfig({ TESTUM_MASTER_KEY: key, TESTUM_LINK_TTL: "7d" }).TESTUM_LINK_TTL).toBe(7 * 86_400_000);
    expect(() => loadConfig({ TESTUM_MASTER_KEY: key, TESTUM_LINK_TTL: "forever" })).toThrow(/TESTUM_LINK_TTL: expected a duration such as 30s, 10m or 1h, got "forever"/);
    expect(() => loadConfig({ TESTUM_MASTER_KEY: key, TESTUM_LINK_TTL: "30" })).toThrow(/TESTUM_LINK_TTL: expected a duration/);
  });

  it("parses admins and PUBLIC_URL", () => {
    const config = loadConfig({ TESTUM_MASTER_KEY: key, TESTUM_ADMINS: "slack:T1:U1, discord:123:456", PUBLIC_URL: "https://ops.example.com/" });
    expect(config.TESTUM_ADMINS).toEqual(["slack:T1:U1", "discord:123:456"]);
    expect(config.publicUrl).toBe("https://ops.example.com");
  });

  it("refuses a master key file that other users can read, saying how to fix it", () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    loadConfig({ TESTUM_DATA_DIR: dir });
    const file = join(dir, "master.key");
    chmodSync(file, 0o644);
    expect(() => loadConfig({ TESTUM_DATA_DIR: dir })).toThrow(`the key file ${file} can be read or changed by other users (mode 644); run: chmod 600 ${file}`);
    chmodSync(file, 0o600);
    expect(loadConfig({ TESTUM_DATA_DIR: dir }).masterKey).toHaveLength(32);
  });
});
