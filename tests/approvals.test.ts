import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job } from "../src/core/jobs/jobs.js";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { blockText, CHANNEL, jobIdFrom, SLACK_TRANSPORTS, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";
import { LISTING_WIDTH } from "../src/core/chat/replies.js";

const id = (user: string) => `slack:${DEFAULT_TEAM_ID}:${user}`;
const ALICE = "U0ALICE0001"; // operator on role=web
const BOB = "U0BOB000001"; // approver on *
const CAROL = "U0CAROL0001"; // approver on db-1 only
const VIC = "U0VIC000001"; // viewer on *
const DAN = "U0DAN000001"; // approver through the group S0APPROVERS

function text(res: { json?: Record<string, unknown> | undefined }): string {
  return `${String(res.json?.text ?? "")}\n${blockText((res.json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

/** The private answer the last click got (Slack sends it to the response_url). */
function lastResponse(world: SlackWorld): string {
  const body = world.slack.responses().at(-1)?.body as { text?: string; blocks?: Record<string, unknown>[] } | undefined;
  return `${body?.text ?? ""}\n${blockText(body?.blocks ?? [])}`;
}

async function request(world: SlackWorld, user: string, command: string): Promise<Job> {
  const res = await world.slash(command, user);
  expect(text(res)).toContain("needs approval");
  const jobId = jobIdFrom(text(res));
  return eventually("the approval request to be posted", async () => {
    const job = await world.job(jobId);
    return job.approvalMessage ? job : undefined;
  });
}

const requestText = (world: SlackWorld, job: Job) => blockText(world.slack.message(CHANNEL, job.approvalMessage!.split(":")[3]!)!.blocks);

describe.each(SLACK_TRANSPORTS)("roles and approvals on Slack over %s", (transport) => {
  let world: SlackWorld;

  beforeAll(async () => {
    world = await startSlackWorld({ hosts: 2, transport, testum: { runOptions: { sweepEveryMs: 500 } } });
    // testum reads user groups once a minute: the group exists before the first command.
    world.slack.addUserGroup(DEFAULT_TEAM_ID, "S0APPROVERS", [DAN]);
    await world.addHost("web-1", world.ssh.hosts[0]!);
    await world.addHost("db-1", world.ssh.hosts[1]!);
    await world.slash("hosts tag web-1 role=web");
    for (const [user, role, scope] of [
      [ALICE, "operator", "role=web"],
      [BOB, "approver", "*"],
      [CAROL, "approver", "db-1"],
      [VIC, "viewer", "*"],
    ] as const) {
      expect(text(await world.slash(`grant <@${user}> ${role} on ${scope}`))).toContain(`is now ${role} on ${scope}`);
    }
    expect(text(await world.slash("grant <!subteam^S0APPROVERS|@approvers> approver"))).toContain("group:S0APPROVERS is now approver on *");
  });

  afterAll(async () => {
    await world?.stop();
  });

  it("lets each role do what it may and refuses the rest privately, naming the missing right, audited", async () => {
    const viewerRun = await world.slash("run web-1 'uptime'", VIC);
    expect(viewerRun.json?.response_type).toBe("ephemeral");
    expect(text(viewerRun)).toMatch(/Not allowed: you need operator \(the run right\) on web-1\./);
    expect(text(await world.slash("hosts", VIC))).toContain("web-1");
    expect(text(await world.slash("whoami", VIC))).toContain("viewer on *");

    const ok = await world.slash("run web-1 'echo operator'", ALICE);
    expect((await world.finished(jobIdFrom(text(ok)))).status).toBe("succeeded");
    expect(text(await world.slash("run db-1 'uptime'", ALICE))).toMatch(/you need operator \(the run right\) on db-1/);
    expect(text(await world.slash("hosts", ALICE))).not.toContain("db-1");
    expect(text(await world.slash("hosts add x1 u@10.0.0.1", ALICE))).toMatch(/you need admin \(the admin right\) on \*/);
    expect(text(await world.slash(`grant <@${ALICE}> admin`, ALICE))).toMatch(/you need admin/);
    expect(text(await world.slash("run web-1 'uptime'", "U0NOBODY001"))).toMatch(/You have: no roles/);

    const refusals = await world.testum.sql`select actor, action from audit where outcome = 'refused' order by id`;
    expect(refusals).toEqual(
      expect.arrayContaining([
        { actor: id(VIC), action: "job.request" },
        { actor: id("U0NOBODY001"), action: "job.request" },
        { actor: id(ALICE), action: "job.request" },
        { actor: id(ALICE), action: "host.add" },
        { actor: id(ALICE), action: "access.grant" },
      ]),
    );
  });

  it("asks for approval of a risky command; the requester and an approver without scope cannot approve; an approver runs it once, in the thread", async () => {
    await world.ssh.hosts[0]!.exec("mkdir -p /tmp/testum-appr-$PPID-x && echo > ~/marker");
    const job = await request(world, ALICE, "run web-1 'rm -rf ~/marker; echo ran >> ~/approved-runs'");
    expect(job.status).toBe("awaiting_approval");
    expect(job.approvalReasons.join()).toContain("recursive rm");
    const req = requestText(world, job);
    expect(req).toContain(`Approval needed for job #${job.id}`);
    expect(req).toContain("recursive rm");
    expect(world.slack.message(CHANNEL, job.approvalMessage!.split(":")[3]!)!.threadTs).toBe(job.parentMessage!.split(":")[3]);

    await world.click(job.approvalMessage!, `t1:approve:${job.id}`, ALICE);
    await eventually("the refusal", () => lastResponse(world).includes("you asked for job"));
    await world.click(job.approvalMessage!, `t1:approve:${job.id}`, CAROL);
    await eventually("the refusal", () => /you need approver \(the approve right\) on web-1/.test(lastResponse(world)));
    expect((await world.job(job.id)).status).toBe("awaiting_approval");
    expect(requestText(world, job)).toContain("Approval needed");

    await world.click(job.approvalMessage!, `t1:approve:${job.id}`, BOB);
    const done = await world.finished(job.id);
    expect(done.status).toBe("succeeded");
    expect((await world.ssh.hosts[0]!.exec("cat ~/approved-runs")).stdout).toBe("ran\n");
    await eventually("the request to show who approved", () => /approved by u0bob000001 \(slack:T\w+:U0BOB000001\) at/.test(requestText(world, job)));
    // A second click changes nothing.
    await world.click(job.approvalMessage!, `t1:approve:${job.id}`, BOB);
    await eventually("the answer", () => lastResponse(world).includes("is not waiting for approval"));
    expect((await world.ssh.hosts[0]!.exec("cat ~/approved-runs")).stdout).toBe("ran\n");
    const audit = await world.testum.sql`select actor, outcome from audit where action = 'approval.approve' and detail->>'job' = ${String(job.id)} order by id`;
    expect(audit).toEqual([
      { actor: id(ALICE), outcome: "refused" },
      { actor: id(CAROL), outcome: "refused" },
      { actor: id(BOB), outcome: "approved" },
    ]);
  });

  it("gives one run when two approvers click at the same moment", async () => {
    const job = await request(world, ALICE, "run web-1 'echo once >> ~/simultaneous; systemctl restart nothing-here || true'");
    await Promise.all([world.click(job.approvalMessage!, `t1:approve:${job.id}`, BOB), world.click(job.approvalMessage!, `t1:approve:${job.id}`, DAN)]);
    await world.finished(job.id);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await world.ssh.hosts[0]!.exec("cat ~/simultaneous")).stdout).toBe("once\n");
    const granted = await world.testum.sql`select count(*)::int as n from audit where action = 'approval.granted' and detail->>'job' = ${String(job.id)}`;
    expect(granted[0]!.n).toBe(1);
  });

  it("takes approve and reject as text too; a rejected job never runs", async () => {
    const job = await request(world, ALICE, "run web-1 'shutdown -h now'");
    expect(text(await world.slash(`reject ${job.id} not today`, BOB))).toContain(`You rejected job #${job.id}`);
    await eventually("the request to show the rejection", () => requestText(world, job).includes("Reason: not today"));
    expect((await world.job(job.id)).status).toBe("rejected");
    expect(text(await world.slash(`approve ${job.id}`, DAN))).toContain("is not waiting for approval");

    const second = await request(world, ALICE, "run web-1 'kill -9 1 || true'");
    expect(text(await world.slash(`approve ${second.id}`, DAN))).toContain(`You approved job #${second.id}`);
    expect((await world.finished(second.id)).status).toMatch(/succeeded|failed/);
  });

  it("does not run when the target names other hosts by approval time, and asks again", async () => {
    const job = await request(world, ALICE, "run role=web 'chmod -R u+rwX ~/.cache || true'");
    expect(job.approvalReasons.join()).toContain("recursive chmod");
    await world.slash("hosts tag db-1 role=web");
    await world.slash(`grant <@${ALICE}> operator on db-1`);
    await world.click(job.approvalMessage!, `t1:approve:${job.id}`, BOB);
    await eventually("the request to say the targets changed", () => requestText(world, job).includes("not the hosts approved"));
    const again = await world.job(job.id);
    expect(again.status).toBe("awaiting_approval");
    expect((await world.tasks(job.id)).map((t) => t.hostName).sort()).toEqual(["db-1", "web-1"]);
    expect(requestText(world, again)).toContain("Hosts (2)");
    await world.click(job.approvalMessage!, `t1:approve:${job.id}`, BOB);
    expect((await world.finished(job.id)).status).toBe("succeeded");
    await world.slash("hosts untag db-1 role");
  });

  it("needs approval for every command on a host tagged approval=required", async () => {
    await world.slash("hosts tag web-1 approval=required");
    const job = await request(world, ALICE, "run web-1 'uptime'");
    expect(job.approvalReasons.join()).toContain("web-1 requires approval for every command");
    await world.slash("hosts untag web-1 approval");
  });

  it("answers a run with a private note that does not claim success; the job's thread carries the rest", async () => {
    const queued = await world.slash("run web-1 'true'", ALICE);
    expect(queued.json?.response_type).toBe("ephemeral");
    expect(text(queued)).toMatch(/📨 Job #\d+ queued on web-1\. Its progress and result follow in the job's thread in this channel\./);
    expect(text(queued)).not.toContain("✅");
    await world.finished(jobIdFrom(text(queued)));
    // The approval notice lists its reasons as text, not as a code block.
    const risky = await world.slash("run web-1 'rm -rf /tmp/x'", ALICE);
    expect(risky.json?.response_type).toBe("ephemeral");
    expect(text(risky)).toContain("• the command looks risky: recursive rm");
    expect(JSON.stringify(risky.json?.blocks)).not.toContain("rich_text_preformatted");
  });

  it("names the job in each audit line about one", async () => {
    const audit = text(await world.slash("audit action=job.end"));
    expect(audit).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC · \S+\n +job\.end \S+ → \w+ · job #\d+/);
    expect(text(await world.slash("audit action=access.grant"))).not.toContain("job #");
  });

  it("lists risk patterns and recent jobs one item in two short lines", async () => {
    const risk = text(await world.slash("risk"));
    expect(risk).toMatch(/#1 +recursive rm\n +\\brm/);
    const jobs = text(await world.slash("jobs", BOB));
    expect(jobs).toMatch(/#\d+ +\S+ · \d{4}-\d\d-\d\d \d\d:\d\d UTC · \S+\n +(web-1|db-1|role=web): /);
    // The items' lines (the footer is text, which every platform wraps).
    const items = [...risk.split("\n"), ...jobs.split("\n")].filter((line) => /^(#\d| )/.test(line));
    expect(items.length).toBeGreaterThan(4);
    for (const line of items) expect(line.length, line).toBeLessThanOrEqual(LISTING_WIDTH);
  });
});

describe("two approvers, host count and expiry", () => {
  let world: SlackWorld;

  beforeAll(async () => {
    world = await startSlackWorld({
      hosts: 2,
      testum: {
        env: { TESTUM_APPROVALS_REQUIRED: "2", TESTUM_APPROVAL_HOSTS: "1", TESTUM_APPROVAL_TTL: "4s" },
        runOptions: { sweepEveryMs: 500 },
      },
    });
    await world.addHost("app-1", world.ssh.hosts[0]!);
    await world.addHost("app-2", world.ssh.hosts[1]!);
    for (const [user, role] of [
      [ALICE, "operator"],
      [BOB, "approver"],
      [CAROL, "approver"],
    ] as const)
      await world.slash(`grant <@${user}> ${role}`);
  });

  afterAll(async () => {
    await world?.stop();
  });

  it("needs two distinct approvers, and asks for approval above the host limit", async () => {
    const job = await request(world, ALICE, "run app-1,app-2 'echo both'");
    expect(job.approvalReasons.join()).toContain("it targets 2 hosts (more than 1 need approval)");
    expect(text(await world.slash(`approve ${job.id}`, BOB))).toContain("1 of 2 approvals");
    expect(text(await world.slash(`approve ${job.id}`, BOB))).toContain("already decided");
    expect((await world.job(job.id)).status).toBe("awaiting_approval");
    expect(text(await world.slash(`approve ${job.id}`, CAROL))).toContain("it runs now");
    expect((await world.finished(job.id)).status).toBe("succeeded");
  });

  it("expires a request nobody decided in time and says so", async () => {
    const job = await request(world, ALICE, "run app-1 'rm -r ~/nothing-here'");
    const expired = await eventually(
      "the request to expire",
      async () => {
        const row = await world.job(job.id);
        return row.status === "expired" ? row : undefined;
      },
      15_000,
    );
    expect(expired.error).toContain("not approved in time");
    await eventually("the request message to say so", () => requestText(world, job).includes("was not approved in time"));
    expect(text(await world.slash(`approve ${job.id}`, BOB))).toContain("is not waiting for approval (it is expired)");
  });
});
