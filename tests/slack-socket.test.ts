import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { slashCommandPayload } from "./helpers/slack-sign.js";
import { ADMIN, blockText, CHANNEL, jobIdFrom, startSlackWorld, type SlackWorld, answerText } from "./helpers/slack-world.js";
import { eventually, startTestumForTest } from "./helpers/testum.js";

/**
 * Slack over Socket Mode only: testum listens on 127.0.0.1 and has no
 * /slack/events endpoint; every command, click and form arrives as an
 * envelope on a connection testum opened, and is answered in the ack.
 */
let world: SlackWorld;
const logLines: string[] = [];
const OPS = "U0OPS000001";

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 1, transport: "socket", testum: { logLines, runOptions: { sweepEveryMs: 500, scheduleSyncMs: 300 } } });
  world.slack.setRateLimit("chat.update", { perMinute: 6000, burst: 200, scope: "team" });
  world.slack.setRateLimit("chat.postMessage", { perMinute: 6000, burst: 200, scope: "channel" });
  await world.addHost("web-1", world.ssh.hosts[0]!);
  expect(answerText(await world.slash(`grant <@${OPS}> operator`))).toContain("is now operator");
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

async function runs(file: string): Promise<number> {
  const { stdout } = await world.ssh.hosts[0]!.exec(`cat ~/${file} 2>/dev/null | wc -l`);
  return Number(stdout.trim());
}

describe("Slack over Socket Mode", () => {
  it("says at start which way Slack reaches testum and why, holds two connections, and serves no Slack endpoint", async () => {
    expect(logLines.some((l) => l.includes("Slack: on, over Socket Mode") && l.includes("SLACK_APP_TOKEN is set"))).toBe(true);
    expect(world.testum.config.HOST).toBe("127.0.0.1");
    expect((await fetch(`${world.testum.url}/slack/events`)).status).toBe(404);
    expect(world.slack.socket.ready()).toBe(2);
    // apps.connections.open went to SLACK_API_URL, with the app-level token.
    expect(world.slack.calls().filter((c) => c.method === "apps.connections.open" && c.ok)).toHaveLength(2);
  });

  it("runs a command with live output, answering in the envelope's ack within 3 s", async () => {
    await world.ssh.hosts[0]!.exec("rm -f ~/socket-run-go");
    // The command goes on only once the test has seen its live output, so the live message is edited afterwards whatever the load.
    const res = await world.slash("run web-1 'echo hello; while [ ! -e ~/socket-run-go ]; do sleep 0.1; done; echo over the socket'");
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(3000);
    expect(res.json?.response_type).toBe("ephemeral");
    const id = jobIdFrom(answerText(res));
    await eventually("the live message showing the first line", async () => {
      const parentTs = (await world.job(id)).parentMessage?.split(":")[3];
      return parentTs !== undefined && world.slack.replies(CHANNEL, parentTs).some((m) => blockText(m.blocks).includes("hello"));
    });
    await world.ssh.hosts[0]!.exec("touch ~/socket-run-go");
    const job = await world.finished(id);
    expect(job.status).toBe("succeeded");
    const parentTs = job.parentMessage!.split(":")[3]!;
    const live = await eventually("the final live message", () => {
      const [reply] = world.slack.replies(CHANNEL, parentTs);
      return reply && blockText(reply.blocks).includes("hello\nover the socket") ? reply : undefined;
    });
    expect(live.edits.length).toBeGreaterThanOrEqual(1);
  });

  it("asks for approval of a risky command; the button clicks arrive as envelopes and it runs once", async () => {
    const asked = await world.slash("run web-1 'rm -rf ~/sm-scratch; echo ran >> ~/sm-approved'", OPS);
    expect(answerText(asked)).toContain("needs approval");
    const jobId = jobIdFrom(answerText(asked));
    const job = await eventually("the request", async () => ((await world.job(jobId)).approvalMessage ? world.job(jobId) : undefined));
    const self = await world.click(job.approvalMessage!, `t1:approve:${jobId}`, OPS);
    expect(self.status).toBe(200);
    await eventually("the refusal", () => world.slack.responses().some((r) => JSON.stringify(r.body).includes("you asked for job")));
    expect((await world.job(jobId)).status).toBe("awaiting_approval");
    expect((await world.click(job.approvalMessage!, `t1:approve:${jobId}`)).status).toBe(200);
    expect((await world.finished(jobId)).status).toBe("succeeded");
    expect(await runs("sm-approved")).toBe(1);
  });

  it("adds a schedule whose reports land in the channel", async () => {
    const added = answerText(await world.slash(`schedule add "* * * * * *" web-1 'echo tick' --name sm-tick`));
    const id = Number(/Schedule #(\d+)/.exec(added)?.[1]);
    expect(id).toBeGreaterThan(0);
    await eventually("a report", () => world.slack.messages(CHANNEL).some((m) => blockText(m.blocks).includes('Scheduled report "sm-tick"')), 20_000);
    expect(answerText(await world.slash(`schedule rm ${id}`))).toContain(`#${id}`);
  });

  it("loses nothing and runs nothing twice when Slack refreshes or drops the connections in the middle of a job", async () => {
    const res = await world.slash("run web-1 'for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 0.5; done; echo ran >> ~/sm-long'");
    const jobId = jobIdFrom(answerText(res));
    await eventually("the job to run", async () => (await world.job(jobId)).status === "running");
    const socket = world.slack.socket;
    const [first, second] = socket.connections().filter((c) => c.open);

    // Slack refreshes one connection: the other carries the next command while it is replaced.
    socket.disconnect("refresh_requested", first!.id);
    const during = await world.slash("run web-1 'echo ran >> ~/sm-during'");
    expect(during.status).toBe(200);
    expect(answerText(during)).toMatch(/Job #\d+ queued/);
    await socket.waitForReady(2, 20_000);

    // Then the other one; and a connection lost without a goodbye.
    socket.disconnect("refresh_requested", second!.id);
    expect((await world.slash("whoami")).status).toBe(200);
    await socket.waitForReady(2, 20_000);
    socket.drop();
    expect(answerText(await world.slash("whoami"))).toContain("admin");
    await socket.waitForReady(2, 20_000);

    const job = await world.finished(jobId, 30_000);
    expect(job.status).toBe("succeeded");
    const log = await (await fetch(`${world.testum.url}/logs/${job.logToken}`)).text();
    expect(log).toBe(Array.from({ length: 10 }, (_, i) => `line ${i + 1}\n`).join(""));
    await world.finished(jobIdFrom(answerText(during)));
    expect(await runs("sm-long")).toBe(1);
    expect(await runs("sm-during")).toBe(1);
    // Every envelope was acknowledged on time, on a connection that was not told to go.
    const envelopes = socket.envelopes();
    expect(envelopes.every((e) => e.ackedAt !== undefined && !e.late)).toBe(true);
  });

  it("acknowledges an envelope Slack sends again without acting on it twice", async () => {
    const payload = slashCommandPayload({
      text: "run web-1 'echo ran >> ~/sm-twice'",
      teamId: DEFAULT_TEAM_ID,
      userId: ADMIN,
      channelId: CHANNEL,
      responseUrl: world.slack.newResponseUrl(),
      triggerId: world.slack.issueTriggerId({ userId: ADMIN }),
    });
    const first = await world.slack.socket.send("slash_commands", payload);
    expect(first.ok).toBe(true);
    const again = await world.slack.socket.send("slash_commands", payload, { envelopeId: first.envelopeId, retryReason: "timeout" });
    // Acknowledged so Slack stops retrying, with nothing to say: the first answer stands.
    expect(again.ok && again.ack).toEqual({});
    const jobId = jobIdFrom(JSON.stringify(first.ok && first.ack));
    await world.finished(jobId);
    expect(await runs("sm-twice")).toBe(1);
    expect(await world.testum.sql`select id from audit where action = 'request.replay'`).toEqual([]);
  });

  it("acknowledges and drops an envelope whose payload testum does not understand", async () => {
    const delivery = await world.slack.socket.send("slash_commands", { command: "/testum", text: "whoami", team_id: "not a team!", user_id: ADMIN });
    expect(delivery.ok && delivery.ack).toEqual({});
    await eventually("the log line", () => logLines.some((l) => l.includes("dropped a Socket Mode envelope that testum does not understand")));
  });

  it("says in its log when Slack refuses the app-level token", async () => {
    const lines: string[] = [];
    const other = await startTestumForTest({
      env: { SLACK_APP_TOKEN: "xapp-1-not-this-app", SLACK_BOT_TOKEN: world.testum.env.SLACK_BOT_TOKEN!, SLACK_API_URL: world.slack.url },
      logLines: lines,
      work: false,
    });
    try {
      await eventually("the refusal", () => lines.some((l) => l.includes("Slack refused the Socket Mode connection (invalid_auth)") && l.includes("SLACK_APP_TOKEN")));
    } finally {
      await other.stop();
    }
  });
});
