import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobProbes } from "./helpers/jobs.js";
import { startSshHosts, type SshHostSet } from "./helpers/sshd.js";
import { openPlayground, type PlaygroundClient } from "./helpers/playground-client.js";
import { startTestumForTest, type TestumUnderTest } from "./helpers/testum.js";
import { addTestHost } from "./helpers/hosts.js";

/**
 * Runbooks from the playground (its own API, as its page calls it), with
 * TESTUM_MODE=allowlist: local:alice is an operator, local:admin an admin.
 */
let ssh: SshHostSet;
let testum: TestumUnderTest;
let playground: PlaygroundClient;
const MARKER = `/tmp/testum-rb-playground-${randomBytes(4).toString("hex")}`;

const send = (who: string, text: string) => playground.send(who, text);

async function outputOf(answer: string): Promise<string> {
  const probes = jobProbes(testum.sql);
  const job = await probes.finished(Number(/#(\d+)/.exec(answer)?.[1]));
  expect(job.status).toBe("succeeded");
  const [task] = await probes.tasks(job.id);
  return task!.tail ?? "";
}

beforeAll(async () => {
  ssh = await startSshHosts(1);
  testum = await startTestumForTest({ env: { TESTUM_MODE: "allowlist" } });
  await addTestHost(testum.sql, ssh, "web-1");
  playground = await openPlayground(testum);
}, 120_000);

afterAll(async () => {
  await testum?.stop();
  await ssh?.stop();
});

describe("runbooks from the playground, in allowlist mode", () => {
  it("lets the admin add a runbook and the operator run it, with parameters as literal text", async () => {
    expect(await send("local:admin", `/testum runbook add grep-log web-1 'grep -c -F -- {pattern} /etc/hostname' --description 'Count matching lines'`)).toContain(
      "Runbook grep-log added",
    );
    expect(await send("local:admin", `/testum runbook add say web-1 'echo {msg}'`)).toContain("Runbook say added");
    for (const value of [`$(touch ${MARKER})`, `; touch ${MARKER}`, `\`touch ${MARKER}\``]) {
      expect(await outputOf(await send("local:alice", `/testum rb say 'msg=${value}'`))).toBe(value);
    }
    expect(existsSync(MARKER)).toBe(false);
  });

  it("refuses the operator's own commands and explains a bad parameter", async () => {
    expect(await send("local:alice", "/testum run web-1 'id'")).toContain("you need free-form (the free-form right)");
    expect(await send("local:alice", "/testum rb grep-log pattern=-v")).toContain(
      'parameter pattern got "-v", expected text of at most 1000 characters that does not start with -',
    );
    expect(await outputOf(await send("local:admin", "/testum run web-1 'echo admin may'"))).toBe("admin may");
    const [refused] = await testum.sql`select outcome, detail->>'right' as right from audit where actor = 'local:alice' and action = 'job.request' and outcome = 'refused'`;
    expect(refused).toEqual({ outcome: "refused", right: "free-form" });
  });
});
