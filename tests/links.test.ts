import { afterAll, describe, expect, it } from "vitest";
import { maskLinkTokens } from "../src/adapters/http/server.js";
import { freePort } from "./helpers/sshd.js";
import { startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";

const started: TestumUnderTest[] = [];

afterAll(async () => {
  for (const t of started) await t.stop();
});

describe("links and what testum tells about itself", () => {
  it("never writes a link token into its own log", () => {
    expect(maskLinkTokens("/logs/eE-gv0c8TyBKj_-2UfemiA07dKZFkn56/web-1?inline=1")).toBe("/logs/***/web-1?inline=1");
    expect(maskLinkTokens("/reports/eE-gv0c8TyBKj_-2UfemiA07dKZFkn56")).toBe("/reports/***");
    expect(maskLinkTokens("/jobs/17?t=eE-gv0c8TyBKj_-2UfemiA07dKZFkn56")).toBe("/jobs/17?t=***");
    expect(maskLinkTokens("/healthz")).toBe("/healthz");
  });

  it("answers /readyz without internal error text, keeping the reason for its own log; links go out with no Referer", async () => {
    const lines: string[] = [];
    const deadRedis = await freePort();
    const testum = await startTestumForTest({ env: { REDIS_URL: `redis://127.0.0.1:${deadRedis}` }, work: false, logLines: lines });
    started.push(testum);
    const res = await fetch(`${testum.url}/readyz`);
    expect(res.status).toBe(503);
    const body = await res.text();
    // Before, the body said "connect ECONNREFUSED 127.0.0.1:PORT".
    expect(JSON.parse(body)).toEqual({ postgres: "ok", redis: "unavailable", logs: "ok" });
    expect(body).not.toContain(String(deadRedis));
    expect(lines.some((l) => l.includes("not ready") && l.includes("redis"))).toBe(true);
    const link = await fetch(`${testum.url}/logs/${"x".repeat(32)}`);
    expect(link.status).toBe(404);
    expect(link.headers.get("referrer-policy")).toBe("no-referrer");
  });
});
