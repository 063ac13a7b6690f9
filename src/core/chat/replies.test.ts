import { describe, expect, it } from "vitest";
import { helpView } from "../commands/help.js";
import { describeProbe } from "../hosts/host-admin.js";
import type { Host } from "../hosts/hosts.js";
import { translator } from "./i18n.js";
import { listing, LISTING_WIDTH, wrapLine } from "./replies.js";

const codeLines = (view: { blocks: readonly { type: string; lines?: readonly string[] }[] }) => view.blocks.flatMap((b) => (b.type === "code" ? b.lines! : []));

describe("listings fit a chat message's width", () => {
  it("wrap a long value under itself, keep options in brackets whole, and never cut a fingerprint", () => {
    const fingerprint = `SHA256:${"a".repeat(43)}`;
    const problem = wrapLine(
      `problem:        host key of web-1 changed: pinned ${fingerprint}, presented SHA256:${"b".repeat(43)}; accept the new key with /testum hosts repin web-1`,
    );
    expect(problem[0]).toMatch(/^problem: {8}host key of web-1 changed: pinned$/);
    expect(problem.join("\n")).toContain(fingerprint);
    expect(problem.slice(1).every((l) => l.startsWith("    "))).toBe(true);
    const usage = wrapLine("/testum schedule add 'CRON' TARGET 'COMMAND' [--tz TZ] [--name NAME] [--on-change] [--quiet] [--timeout DURATION]  Run a command on a schedule");
    expect(usage.every((l) => l.length <= LISTING_WIDTH)).toBe(true);
    expect(usage.join(" ")).toContain("[--name NAME]");
    expect(usage.slice(1).every((l) => l.startsWith("    /") === false && l.startsWith("    "))).toBe(true);
    // A word longer than a line is cut where it must be, and nothing is lost.
    const long = "x".repeat(200);
    expect(wrapLine(`#1  ${long}`).join("").replace(/\s/g, "")).toBe(`#1${long}`);
    expect(wrapLine("short")).toEqual(["short"]);
  });

  it("wrap only when asked: a public key stays one line to copy", () => {
    const key = `ssh-ed25519 ${"A".repeat(68)} testum@2026-12-07`;
    expect(codeLines(listing("identity", [key]))).toEqual([key]);
    expect(codeLines(listing("jobs", [`#1  ${"word ".repeat(30)}`], undefined, { wrap: true })).length).toBeGreaterThan(1);
  });

  it("help for a command and hosts test stay within the width, in both languages", () => {
    for (const lang of ["en", "ru"] as const) {
      const t = translator(lang);
      for (const line of codeLines(helpView("schedule", t))) expect(line.length, line).toBeLessThanOrEqual(LISTING_WIDTH);
      const host = { name: "web-1", username: "root", address: "10.0.0.5", port: 22, hostKeyFingerprint: `SHA256:${"p".repeat(43)}` } as Host;
      const probe = { reachable: true, authenticated: false, fingerprint: `SHA256:${"n".repeat(43)}`, error: "x ".repeat(60) } as never;
      const lines = codeLines(listing("test", describeProbe(host, probe, t), undefined, { wrap: true }));
      for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(LISTING_WIDTH);
    }
  });
});
