import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobProbes } from "./helpers/jobs.js";
import { startSshHosts, type SshHostSet } from "./helpers/sshd.js";
import { openPlayground, type PlaygroundClient } from "./helpers/playground-client.js";
import { startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";
import { addTestHost } from "./helpers/hosts.js";

/**
 * Admin-defined redaction patterns from the playground (its own API, as its
 * page calls it; local:admin is an admin, local:alice an operator) and the
 * command line, on a real host.
 */
let ssh: SshHostSet;
let testum: TestumUnderTest;
let playground: PlaygroundClient;

const send = (who: string, text: string) => playground.send(who, text);

/** Runs `command` on web-1 as the admin; the job's stored log. */
async function logOf(command: string): Promise<string> {
  const answer = await send("local:admin", `/testum run web-1 '${command}'`);
  const job = await jobProbes(testum.sql).finished(Number(/#(\d+)/.exec(answer)?.[1]));
  expect(job.status).toBe("succeeded");
  return (await fetch(`${testum.url}/logs/${job.logToken}/web-1`)).text();
}

/** `testum …` as a process of its own (asynchronously: testum runs in this process and must go on answering). */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/testum.js", ...args], { env: { ...process.env, ...testum.env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  ssh = await startSshHosts(1);
  testum = await startTestumForTest();
  await addTestHost(testum.sql, ssh, "web-1");
  playground = await openPlayground(testum);
}, 120_000);

afterAll(async () => {
  await testum?.stop();
  await ssh?.stop();
});

describe("redaction patterns of one's own", () => {
  it("are added, listed and removed by an admin, audited, and hide what they match from the next job on", async () => {
    expect(await logOf("echo key acme_0123456789ab here")).toBe("key acme_0123456789ab here\n");
    expect(await send("local:admin", "/testum redact add acme_key 'acme_[a-z0-9]{12}'")).toContain("Redaction pattern acme_key added");
    const list = await send("local:admin", "/testum redact");
    expect(list).toContain("acme_key");
    expect(list).toContain("acme_[a-z0-9]{12}");
    expect(list).toContain("github_token");
    expect(await logOf("echo key acme_0123456789ab here")).toBe("key [redacted:acme_key] here\n");

    expect(await send("local:admin", "/testum redact rm acme_key")).toContain("Redaction pattern acme_key removed");
    expect(await send("local:admin", "/testum redact rm acme_key")).toContain('there is no redaction pattern "acme_key"');
    expect(await send("local:admin", "/testum redact list")).not.toContain("acme_[a-z0-9]{12}");
    expect(await logOf("echo key acme_0123456789ab here")).toBe("key acme_0123456789ab here\n");

    const audit = await testum.sql`select actor, action, target, outcome, detail->>'pattern' as pattern from audit where action like 'redaction.%' and outcome <> 'ok' order by id`;
    expect(audit).toEqual([
      { actor: "local:admin", action: "redaction.add", target: "acme_key", outcome: "added", pattern: "acme_[a-z0-9]{12}" },
      { actor: "local:admin", action: "redaction.remove", target: "acme_key", outcome: "removed", pattern: "acme_[a-z0-9]{12}" },
    ]);
  });

  it("say what is wrong with a pattern that could be slow, matches nothing or is not a regular expression", async () => {
    expect(await send("local:admin", "/testum redact add bad '(\\w+\\s?)+$'")).toContain("repeats a group that itself repeats");
    expect(await send("local:admin", "/testum redact add bad 'x*'")).toContain("matches empty text");
    expect(await send("local:admin", "/testum redact add bad '[oops'")).toContain("is not a valid regular expression");
    expect(await send("local:admin", "/testum redact add jwt 'abc'")).toContain("name of a built-in detector");
    const [stored] = await testum.sql<{ count: number }[]>`select count(*)::int as count from redaction_patterns`;
    expect(stored!.count).toBe(0);
  });

  it("are refused to anyone but an admin, and the refusal is audited", async () => {
    for (const text of ["/testum redact add mine 'mine_[0-9]{8}'", "/testum redact list", "/testum redact rm anything"]) {
      expect(await send("local:alice", text)).toMatch(/Not allowed/);
    }
    const refused = await testum.sql`select action from audit where actor = 'local:alice' and outcome = 'refused' order by id`;
    expect(refused.map((r) => r.action)).toEqual(["redaction.add", "redaction.list", "redaction.remove"]);
    const [stored] = await testum.sql<{ count: number }[]>`select count(*)::int as count from redaction_patterns`;
    expect(stored!.count).toBe(0);
  });

  it("can be kept from the command line too, audited the same way", async () => {
    const add = await cli(["redact", "add", "pin", "PIN [0-9]{6}"]);
    expect(add).toMatchObject({ code: 0, stdout: expect.stringContaining("Added pin") });
    expect((await cli(["redact", "list"])).stdout).toMatch(/pin\s+PIN \[0-9\]\{6\}/);
    expect(await logOf("echo PIN 123456 ok")).toBe("[redacted:pin] ok\n");
    const bad = await cli(["redact", "add", "worse", "(a|b)*c"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("repeats a group");
    expect(await cli(["redact", "rm", "pin"])).toMatchObject({ code: 0 });
    const audit = await testum.sql`select action, target, outcome from audit where action in ('redaction.add', 'redaction.remove') and actor like 'cli:%' order by id`;
    expect(audit).toEqual([
      { action: "redaction.add", target: "pin", outcome: "added" },
      { action: "redaction.remove", target: "pin", outcome: "removed" },
    ]);
  });
});
