import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NEEDS } from "../src/core/access/authorize.js";
import { COMMAND_SPECS } from "../src/core/commands/commands.js";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { blockText, jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";

const SCOPED = "U0SCOPED001"; // admin on s1 only
const OPS = "U0OPSONLY01"; // operator on s1 only
const id = (user: string) => `slack:${DEFAULT_TEAM_ID}:${user}`;

function text(res: { json?: Record<string, unknown> | undefined }): string {
  return `${String(res.json?.text ?? "")}\n${blockText((res.json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

function keygen(comment: string): string {
  const dir = mkdtempSync(join(tmpdir(), "scoped-key-"));
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", join(dir, "k")], { timeout: 30_000 });
  return readFileSync(join(dir, "k.pub"), "utf8").trim();
}

describe("every command that touches hosts is checked on each of them", () => {
  it("declares, for every command naming a host or a target, a need checked on those hosts (or on *)", () => {
    for (const spec of COMMAND_SPECS) {
      const name = spec.path.join(".") as keyof typeof NEEDS;
      const need = NEEDS[name];
      expect(need, name).toBeDefined();
      const named = spec.args.filter((a) => a.kind === "host" || a.kind === "target").map((a) => a.name);
      if (named.includes("target")) expect(["target", "everywhere"], name).toContain(need.on);
      else if (named.includes("host") && !spec.args.some((a) => a.name === "job")) expect(["host", "everywhere"], name).toContain(need.on);
      if (spec.args.some((a) => a.name === "job")) expect(need.on, name).toBe("job");
      if (spec.args.some((a) => a.name === "schedule")) expect(need.on, name).toBe("schedule");
    }
  });
});

describe("a one-host admin on Slack", () => {
  let world: SlackWorld;
  const mallory = keygen("mallory@laptop");

  beforeAll(async () => {
    world = await startSlackWorld({ hosts: 2 });
    await world.addHost("s1", world.ssh.hosts[0]!);
    await world.addHost("s2", world.ssh.hosts[1]!);
    expect(text(await world.slash(`grant <@${SCOPED}> admin on s1`))).toContain("is now admin on s1");
    expect(text(await world.slash(`grant <@${OPS}> operator on s1`))).toContain("is now operator on s1");
    expect(text(await world.slash(`keys add mallory ${mallory}`))).toContain("Added key mallory");
  });

  afterAll(async () => {
    await world?.stop();
  });

  const keysOf = async (i: number) => (await world.ssh.hosts[i]!.exec("cat ~/.ssh/authorized_keys")).stdout;

  it("cannot deploy, revoke or read keys on hosts outside their scope; nothing is touched and each refusal is audited", async () => {
    const before = [await keysOf(0), await keysOf(1)];
    const deploy = text(await world.slash("keys deploy mallory all", SCOPED));
    expect(deploy).toMatch(/Not allowed: you need admin \(the admin right\) on s2/);
    expect(deploy).not.toMatch(/Deployed/);
    const revoke = text(await world.slash("keys revoke mallory s2", SCOPED));
    expect(revoke).toMatch(/you need admin \(the admin right\) on s2/);
    const status = text(await world.slash("keys status all", SCOPED));
    expect(status).toMatch(/you need admin \(the admin right\) on s2/);
    expect([await keysOf(0), await keysOf(1)]).toEqual(before);
    expect(before.join("\n")).not.toContain("mallory");

    const rows = await world.testum.sql<{ action: string; outcome: string; target: string; detail: { right: string; hosts: string[] } }[]>`
      select action, outcome, target, detail from audit where actor = ${id(SCOPED)} order by seq`;
    expect(rows.map((r) => [r.action, r.outcome, r.target, r.detail.right, r.detail.hosts])).toEqual([
      ["keys.deploy", "refused", "all", "admin", ["s2"]],
      ["keys.revoke", "refused", "s2", "admin", ["s2"]],
      ["keys.status", "refused", "all", "admin", ["s2"]],
    ]);
    const succeeded = await world.testum.sql`select 1 from audit where action = 'keys.deploy' and outcome <> 'refused'`;
    expect(succeeded).toHaveLength(0);
  });

  it("still manages keys on the host they administer", async () => {
    expect(text(await world.slash("keys deploy mallory s1", SCOPED))).toMatch(/✓ s1\s+added 1/);
    expect(await keysOf(0)).toContain("testum:key:mallory");
    expect(await keysOf(1)).not.toContain("mallory");
    expect(text(await world.slash("keys revoke mallory s1", SCOPED))).toMatch(/✓ s1\s+removed 1/);
  });

  it("a job whose hosts were removed is for admins of * only: nobody else sees, cancels or approves it", async () => {
    await world.addHost("tmp", world.ssh.hosts[1]!);
    expect(text(await world.slash(`grant <@${OPS}> operator on tmp`))).toContain("is now operator on tmp");
    const job = jobIdFrom(text(await world.slash("run tmp 'sleep 30'", OPS)));
    expect(text(await world.slash(`jobs show ${job}`, SCOPED))).toMatch(/you need viewer \(the view right\) on tmp/);
    await world.testum.sql`delete from hosts where name = 'tmp'`;
    // Before, a job with no hosts left passed every check.
    expect(text(await world.slash(`jobs show ${job}`, SCOPED))).toMatch(/some hosts of this job were removed since \(tmp\)/);
    expect(text(await world.slash(`logs ${job}`, SCOPED))).toMatch(/were removed since/);
    expect(text(await world.slash(`cancel ${job}`, SCOPED))).toMatch(/only the person who started job/);
    // Its requester may still stop it, and an admin of * may see it.
    expect(text(await world.slash(`jobs show ${job}`))).toContain(`Job #${job}`);
    expect(text(await world.slash(`cancel ${job}`, OPS))).toMatch(/#\d+/);
    await world.finished(job);
  });

  it("a request asked again for hosts that joined its target runs only if the requester may run on each of them", async () => {
    await world.slash("hosts tag s1 tier=db");
    const job = jobIdFrom(text(await world.slash("run tier=db 'rm -rf ~/scoped-nothing'", OPS)));
    expect((await world.job(job)).status).toBe("awaiting_approval");
    // s2 joins the target while the request waits; the requester may run on s1 only.
    await world.slash("hosts tag s2 tier=db");
    const reply = text(await world.slash(`approve ${job}`));
    // Before, the request was asked again for s1 and s2, and a second approval ran it on s2 too.
    expect(reply).toContain(`Job #${job} does not run: its requester u0opsonly01 (${id(OPS)}) may not run it on every host its target names now (they hold no run right on s2)`);
    expect((await world.job(job)).status).toBe("rejected");
    expect(text(await world.slash(`approve ${job}`))).not.toMatch(/runs now|approved/i);
    expect((await world.tasks(job)).every((t) => t.status !== "succeeded" && t.startedAt === null)).toBe(true);
    const [audit] = await world.testum.sql<{ outcome: string; detail: { requester: string; hosts: string[] } }[]>`
      select outcome, detail from audit where action = 'approval.requester_check' and (detail->>'job')::int = ${job}`;
    expect(audit).toMatchObject({ outcome: "refused", detail: { requester: id(OPS), hosts: ["s2"] } });

    // With the right on the new host too, it is asked again, and runs after that approval.
    expect(text(await world.slash(`grant <@${OPS}> operator on s2`))).toContain("is now operator on s2");
    await world.slash("hosts untag s2 tier");
    const second = jobIdFrom(text(await world.slash("run tier=db 'rm -rf ~/scoped-nothing'", OPS)));
    await world.slash("hosts tag s2 tier=db");
    expect(text(await world.slash(`approve ${second}`))).toContain("now names s1, s2, not the hosts approved");
    expect((await world.job(second)).status).toBe("awaiting_approval");
    expect((await world.tasks(second)).map((t) => t.hostName).sort()).toEqual(["s1", "s2"]);
    await world.slash(`approve ${second}`);
    expect((await world.finished(second)).status).toBe("succeeded");
    await world.slash(`revoke <@${OPS}> operator on s2`);
    await world.slash("hosts untag s1 tier");
    await world.slash("hosts untag s2 tier");
  });

  it("lists and shows only the schedules whose hosts the asker may see", async () => {
    const mine = /#(\d+)/.exec(text(await world.slash(`schedule add "0 3 * * *" s1 'uptime' --name s1-report`, OPS)))![1];
    const theirs = /#(\d+)/.exec(text(await world.slash(`schedule add "0 4 * * *" s2 'cat /etc/secret-path' --name s2-report`)))![1];
    const list = text(await world.slash("schedule list", SCOPED));
    expect(list).toContain("s1-report");
    // Before, any viewer anywhere saw every schedule's target and command.
    expect(list).not.toContain("s2-report");
    expect(text(await world.slash(`schedule show ${mine}`, SCOPED))).toContain("uptime");
    const shown = text(await world.slash(`schedule show ${theirs}`, SCOPED));
    expect(shown).toMatch(/you need viewer \(the view right\) on s2/);
    expect(shown).not.toContain("secret-path");
    expect(text(await world.slash("schedule list"))).toContain("s2-report");
  });
});
