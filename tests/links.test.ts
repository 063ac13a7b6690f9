import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maskLinkTokens } from "../src/adapters/http/server.js";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { ADMIN_IDENTITY, CHANNEL, jobIdFrom, startSlackWorld, type SlackWorld, answerText } from "./helpers/slack-world.js";
import { freePort } from "./helpers/sshd.js";
import { eventually, startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";

const started: TestumUnderTest[] = [];

afterAll(async () => {
  for (const t of started) await t.stop();
});

describe("links and what testum tells about itself", () => {
  it("never writes a link token into its own log", () => {
    expect(maskLinkTokens("/logs/eE-gv0c8TyBKj_-2UfemiA07dKZFkn56/web-1?inline=1")).toBe("/logs/***/web-1?inline=1");
    expect(maskLinkTokens("/reports/eE-gv0c8TyBKj_-2UfemiA07dKZFkn56")).toBe("/reports/***");
    expect(maskLinkTokens("/jobs/17?t=eE-gv0c8TyBKj_-2UfemiA07dKZFkn56")).toBe("/jobs/17?t=***");
    expect(maskLinkTokens("/jobs/17/eE-gv0c8TyBKj_-2UfemiA07dKZFkn56/state")).toBe("/jobs/17/***/state");
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

describe("job links expire, can be revoked, and carry their key only in the path", () => {
  const OPS = "U0LINKOPS01";
  const OTHER = "U0LINKOTH01";
  const lines: string[] = [];
  let world: SlackWorld;

  /** Runs `echo` on web-1 as `user` and waits for its end: the job and its token. */
  async function finishedJob(user: string, word: string): Promise<{ id: number; token: string }> {
    const id = jobIdFrom(answerText(await world.slash(`run web-1 'echo ${word}'`, user)));
    await world.finished(id);
    const [row] = await world.testum.sql<{ logToken: string }[]>`select log_token from jobs where id = ${id}`;
    return { id, token: row!.logToken };
  }

  const links = (id: number, token: string) => [`/logs/${token}`, `/logs/${token}/web-1?inline=1`, `/reports/${token}`, `/jobs/${id}/${token}`, `/jobs/${id}/${token}/state`];

  beforeAll(async () => {
    world = await startSlackWorld({ hosts: 1, testum: { env: { TESTUM_LINK_TTL: "2h" }, logLines: lines } });
    await world.addHost("web-1", world.ssh.hosts[0]!);
    await world.slash(`grant <@${OPS}> operator on web-1`);
    await world.slash(`grant <@${OTHER}> operator on web-1`);
  }, 120_000);

  afterAll(async () => {
    await world?.stop();
  });

  it("gives the job page each host's duration in both languages (the page picks its language in the browser)", async () => {
    const { id, token } = await finishedJob(OPS, "durations");
    const state = (await (await fetch(`${world.testum.url}/jobs/${id}/${token}/state`)).json()) as { tasks: Array<{ duration: Record<string, string> }> };
    expect(state.tasks[0]!.duration.en).toMatch(/^\d+(ms|\.\ds)$/);
    expect(state.tasks[0]!.duration.ru).toMatch(/^\d+(\u00a0мс|,\d\u00a0с)$/);
  });

  it("opens for TESTUM_LINK_TTL after the job started, then answers 410 with a page saying so", async () => {
    const { id, token } = await finishedJob(OPS, "fresh");
    for (const path of links(id, token)) {
      const res = await fetch(`${world.testum.url}${path}`, { redirect: "manual" });
      expect([200, 302], path).toContain(res.status);
    }
    // Three hours ago, with links that open for two.
    await world.testum.sql`update jobs set created_at = now() - interval '3 hours' where id = ${id}`;
    for (const path of links(id, token)) {
      const res = await fetch(`${world.testum.url}${path}`, { redirect: "manual" });
      expect(res.status, path).toBe(410);
      expect(res.headers.get("content-type")).toContain("text/html");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      const page = await res.text();
      expect(page).toContain(`The links of job #${id} expired at`);
      expect(page).toContain("open for 2h after a job starts");
      expect(page).not.toContain("fresh");
    }
    expect(answerText(await world.slash(`logs ${id}`, OPS))).toContain(`The links of job #${id} expired at`);
  });

  it("jobs revoke-links: the requester or an admin, audited; then every link answers 410; others are refused", async () => {
    const { id, token } = await finishedJob(OPS, "revocable");
    const refused = answerText(await world.slash(`jobs revoke-links ${id}`, OTHER));
    expect(refused).toContain(`only the person who started job #${id}, or an admin of its hosts, can revoke its links`);
    expect((await fetch(`${world.testum.url}/logs/${token}`)).status).toBe(200);

    expect(answerText(await world.slash(`jobs revoke-links ${id}`, OPS))).toContain(`Revoked the links of job #${id}`);
    for (const path of links(id, token)) {
      const res = await fetch(`${world.testum.url}${path}`, { redirect: "manual" });
      expect(res.status, path).toBe(410);
      const page = await res.text();
      expect(page).toContain(`The links of job #${id} were revoked by u0linkops01 (slack:${DEFAULT_TEAM_ID}:${OPS}) at`);
      expect(page).not.toContain("revocable");
    }
    expect(answerText(await world.slash(`jobs revoke-links ${id}`))).toContain(`were revoked by u0linkops01`);
    expect(answerText(await world.slash(`jobs show ${id}`, OPS))).toContain(`The links of job #${id} were revoked`);

    // An admin may revoke anyone's.
    const second = await finishedJob(OTHER, "admins-too");
    expect(answerText(await world.slash(`jobs revoke-links ${second.id}`))).toContain(`Revoked the links of job #${second.id}`);
    expect((await fetch(`${world.testum.url}/reports/${second.token}`)).status).toBe(410);

    const audit = await world.testum.sql<{ actor: string; outcome: string; detail: { job: number } }[]>`
      select actor, outcome, detail from audit where action = 'job.revoke_links' order by seq`;
    expect(audit.map((a) => [a.actor, a.outcome, a.detail.job])).toEqual([
      [`slack:${DEFAULT_TEAM_ID}:${OTHER}`, "refused", id],
      [`slack:${DEFAULT_TEAM_ID}:${OPS}`, "revoked", id],
      [ADMIN_IDENTITY, "revoked", second.id],
    ]);
  });

  it("job pages take their key in the path; the old ?t= form answers a clear 410, broken ones 404, never 500", async () => {
    const { id, token } = await finishedJob(OPS, "paged");
    const parent = await eventually("the job page link in the job's message", () =>
      world.slack
        .messages(CHANNEL)
        .map((m) => JSON.stringify(m.blocks))
        .find((t) => t.includes(`/jobs/${id}/`)),
    );
    expect(parent).toContain(`/jobs/${id}/${token}`);
    expect(parent).not.toContain("?t=");
    const page = await fetch(`${world.testum.url}/jobs/${id}/${token}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<script");
    for (const path of [`/jobs/${id}?t=${token}`, `/jobs/${id}/state?t=${token}`]) {
      const old = await fetch(`${world.testum.url}${path}`);
      expect(old.status, path).toBe(410);
      expect(await old.text()).toContain(`/testum jobs show ${id} gives the page`);
    }
    for (const path of [`/jobs/${id}`, `/jobs/${id}/${"x".repeat(32)}`, `/jobs/${id + 1}/${token}`, `/jobs/${id}/%ZZ`, `/jobs/${id}/${token}/nope`]) {
      expect((await fetch(`${world.testum.url}${path}`)).status, path).toBe(404);
    }
    // Nothing testum wrote to its own log holds a link token.
    const tokens = (await world.testum.sql<{ logToken: string }[]>`select log_token from jobs`).map((r) => r.logToken);
    expect(lines.length).toBeGreaterThan(0);
    for (const t of tokens) expect(lines.filter((l) => l.includes(t)).map((l) => l.slice(0, 600))).toEqual([]);
  });
});
