import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { PermissionFlagsBits } from "discord-api-types/v10";
import { describe, expect, it } from "vitest";
import { SLACK_BOT_SCOPES, toYaml } from "../src/adapters/slack/manifest.js";

function testum(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PUBLIC_URL") && !k.startsWith("DISCORD_")));
  const res = spawnSync(process.execPath, ["bin/testum.js", ...args], { env: { ...clean, ...env }, encoding: "utf8", timeout: 30_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe("testum slack manifest", () => {
  it("prints a Socket Mode manifest with no request URL, the same as the one in docs/", () => {
    const res = testum(["slack", "manifest", "--socket"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("socket_mode_enabled: true");
    expect(res.stdout).not.toMatch(/url:/);
    expect(res.stdout).toContain('- command: "/testum"');
    expect(res.stdout).toContain("should_escape: true");
    expect(res.stdout).toMatch(/interactivity:\n {4}is_enabled: true\n/);
    for (const scope of SLACK_BOT_SCOPES) expect(res.stdout).toContain(`- "${scope}"`);
    expect(readFileSync("docs/slack-app-manifest.yml", "utf8")).toBe(res.stdout);
  });

  it("points the slash command and interactivity at PUBLIC_URL/slack/events without --socket", () => {
    const res = testum(["slack", "manifest"], { PUBLIC_URL: "https://ops.example.com/" });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("socket_mode_enabled: false");
    expect(res.stdout.match(/"https:\/\/ops\.example\.com\/slack\/events"/g)).toHaveLength(2);
  });

  it("refuses to print a manifest Slack could not reach, saying what to do", () => {
    const res = testum(["slack", "manifest"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("PUBLIC_URL: required");
    expect(res.stderr).toContain("--socket");
    expect(testum(["slack", "manifest"], { PUBLIC_URL: "http://10.0.0.5:3000" }).stderr).toContain("Slack only posts to https URLs");
  });

  it("writes YAML whose strings cannot change meaning", () => {
    expect(toYaml({ a: "x: y # z", b: [{ c: "'q'", d: true }, "e"], f: 2 })).toBe('a: "x: y # z"\nb:\n  - c: "\'q\'"\n    d: true\n  - "e"\nf: 2\n');
  });
});

describe("testum discord invite-url", () => {
  it("prints the authorize URL with the bot and commands scopes and exactly the permissions testum uses", () => {
    const res = testum(["discord", "invite-url"], { DISCORD_APPLICATION_ID: "123456789012345678" });
    expect(res.code).toBe(0);
    const url = new URL(res.stdout.trim());
    expect(`${url.origin}${url.pathname}`).toBe("https://discord.com/oauth2/authorize");
    expect(url.searchParams.get("client_id")).toBe("123456789012345678");
    expect(url.searchParams.get("scope")).toBe("bot applications.commands");
    expect(url.searchParams.get("integration_type")).toBe("0");
    const wanted = [
      PermissionFlagsBits.ViewChannel,
      PermissionFlagsBits.SendMessages,
      PermissionFlagsBits.EmbedLinks,
      PermissionFlagsBits.CreatePublicThreads,
      PermissionFlagsBits.SendMessagesInThreads,
    ];
    expect(BigInt(url.searchParams.get("permissions")!)).toBe(wanted.reduce((a, b) => a | b, 0n));
  });

  it("says which setting it needs", () => {
    const res = testum(["discord", "invite-url"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("DISCORD_APPLICATION_ID: required");
  });
});
