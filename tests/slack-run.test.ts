import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postSignedSlack, slashCommandBody } from "./helpers/slack-sign.js";
import { ADMIN, ADMIN_IDENTITY, blockText, CHANNEL, jobIdFrom, SIGNING_SECRET, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { eventually } from "./helpers/testum.js";

let world: SlackWorld;

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 2 });
  await world.addHost("prod-db", world.ssh.hosts[0]!);
});

afterAll(async () => {
  await world?.stop();
});

function replyText(json: Record<string, unknown> | undefined): string {
  return `${String(json?.text ?? "")}\n${blockText((json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

describe("/testum run from Slack", () => {
  it("acks within 3 s, posts a parent and a live thread reply, edits it, and ends with the exit code and a log link", async () => {
    await world.ssh.hosts[0]!.exec("rm -f ~/slack-run-go");
    // The command goes on only once the test has seen its live message, so that message is edited afterwards whatever the load.
    const res = await world.slash("run prod-db 'echo hello; while [ ! -e ~/slack-run-go ]; do sleep 0.1; done; echo from testum; echo oops >&2'");
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(3000);
    expect(res.json?.response_type).toBe("ephemeral");
    const id = jobIdFrom(replyText(res.json));
    await eventually("the live message showing the first line", async () => {
      const parentRef = (await world.job(id)).parentMessage;
      const parentTs = parentRef?.split(":")[3];
      return parentTs !== undefined && world.slack.replies(CHANNEL, parentTs).some((m) => blockText(m.blocks).includes("hello"));
    });
    await world.ssh.hosts[0]!.exec("touch ~/slack-run-go");

    const job = await world.finished(id);
    expect(job.status).toBe("succeeded");
    // The parent is edited to its final state just after the job row ends.
    const parent = await eventually("the parent to show the outcome", () => {
      const message = world.slack.message(CHANNEL, job.parentMessage!.split(":")[3]!);
      return message && blockText(message.blocks).includes("Succeeded") ? message : undefined;
    });
    expect(parent!.threadTs).toBeUndefined();
    const parentText = blockText(parent!.blocks);
    expect(parentText).toContain("Succeeded on prod-db");
    expect(parentText).toContain("echo hello");
    expect(parentText).toContain(ADMIN.toLowerCase());
    expect(parentText).toMatch(/Exit code\*\n0/);

    // The live message is a message of its own: its last edit may land after the parent's.
    const live = await eventually("the live message's final output", () => {
      const message = world.slack.replies(CHANNEL, parent!.ts)[0];
      return message && blockText(message.blocks).includes("hello\nfrom testum\noops") ? message : undefined;
    });
    expect(world.slack.replies(CHANNEL, parent!.ts)).toHaveLength(1);
    expect(live.edits.length).toBeGreaterThanOrEqual(1);

    const link = /<(http:\/\/127\.0\.0\.1:\d+\/logs\/[^|>]+)\|Full log>/.exec(parentText)?.[1];
    expect(link).toBeDefined();
    const log = await fetch(link!);
    expect(log.status).toBe(200);
    expect(log.url).not.toBe(link);
    expect(await log.text()).toBe("hello\nfrom testum\noops\n");

    // The audit log names the Slack identity.
    const audit = await world.testum.sql`select actor, action, outcome, target from audit where action = 'job.request' and detail->>'job' = ${String(id)}`;
    expect(audit).toEqual([{ actor: ADMIN_IDENTITY, action: "job.request", outcome: "accepted", target: "prod-db" }]);
  });

  it("reports a non-zero exit as a failure with its code", async () => {
    const res = await world.slash("run prod-db 'echo partial; exit 3'");
    const job = await world.finished(jobIdFrom(replyText(res.json)));
    expect(job.status).toBe("failed");
    const [task] = await world.tasks(job.id);
    expect(task!.exitCode).toBe(3);
    await eventually("the parent to show the failure", () =>
      blockText(world.slack.message(CHANNEL, job.parentMessage!.split(":")[3]!)!.blocks).includes("Failed on prod-db (exit 3)"),
    );
  });

  it("refuses an unknown host privately, queues nothing, and audits the refusal", async () => {
    const before = await world.testum.sql`select count(*)::int as n from jobs`;
    const res = await world.slash("run no-such-host 'uptime'");
    expect(res.status).toBe(200);
    expect(res.json?.response_type).toBe("ephemeral");
    expect(replyText(res.json)).toContain("no host named no-such-host");
    const after = await world.testum.sql`select count(*)::int as n from jobs`;
    expect(after[0]!.n).toBe(before[0]!.n);
    const [row] = await world.testum.sql`select outcome from audit where action = 'job.request' and target = 'no-such-host'`;
    expect(row?.outcome).toBe("refused");
  });

  it("gives a private usage reply for a malformed command and queues nothing", async () => {
    const res = await world.slash("run prod-db");
    expect(replyText(res.json)).toMatch(/missing COMMAND/);
    expect(replyText(res.json)).toContain("Usage: /testum run");
    const unknown = await world.slash("frobnicate");
    expect(replyText(unknown.json)).toContain('unknown command "frobnicate"');
    const [{ n }] = (await world.testum.sql`select count(*)::int as n from jobs where command = ''`) as unknown as [{ n: number }];
    expect(n).toBe(0);
  });

  it("refuses a user who is not an admin, privately, and audits it", async () => {
    const res = await world.slash("run prod-db 'id'", "U0STRANGER1");
    expect(res.json?.response_type).toBe("ephemeral");
    expect(replyText(res.json)).toMatch(/Not allowed: you need operator/);
    expect(replyText(res.json)).toContain(`slack:${DEFAULT_TEAM_ID}:U0STRANGER1`);
    const [row] = await world.testum.sql`select outcome, action from audit where actor = ${`slack:${DEFAULT_TEAM_ID}:U0STRANGER1`}`;
    expect(row).toEqual({ outcome: "refused", action: "job.request" });
    const jobs = await world.testum.sql`select id from jobs where requested_by = ${`slack:${DEFAULT_TEAM_ID}:U0STRANGER1`}`;
    expect(jobs).toHaveLength(0);
  });

  it("answers a forged signature or a stale timestamp with 401 and queues nothing", async () => {
    const before = world.slack.calls().length;
    const raw = slashCommandBody({
      text: "run prod-db 'touch /tmp/forged'",
      teamId: DEFAULT_TEAM_ID,
      userId: ADMIN,
      channelId: CHANNEL,
      responseUrl: world.slack.newResponseUrl(),
    });
    const forged = await postSignedSlack(`${world.testum.url}/slack/events`, raw, "not-the-secret");
    expect(forged.status).toBe(401);
    const stale = await postSignedSlack(`${world.testum.url}/slack/events`, raw, SIGNING_SECRET, { timestampSec: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    const tampered = await postSignedSlack(`${world.testum.url}/slack/events`, raw + "x", SIGNING_SECRET, {
      signatureOverride: (await import("./helpers/slack-sign.js")).signSlack(SIGNING_SECRET, raw)["x-slack-signature"],
    });
    expect(tampered.status).toBe(401);
    const jobs = await world.testum.sql`select id from jobs where command like '%forged%'`;
    expect(jobs).toHaveLength(0);
    expect(world.slack.calls().length).toBe(before);
  });
});
