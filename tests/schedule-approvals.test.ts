import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockText, startSlackWorld, type SlackWorld, answerText } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";

const OPS = "U0OPS000001"; // operator on *
const A1 = "U0APPROVE01";
const A2 = "U0APPROVE02";
let world: SlackWorld;

/** Clicks and returns the private answer it got. */
async function clickAnswer(message: string, value: string, user: string): Promise<string> {
  const before = world.slack.responses().length;
  await world.click(message, value, user);
  const body = await eventually("the answer", () => (world.slack.responses().length > before ? (world.slack.responses().at(-1)!.body as { text?: string }) : undefined));
  return String(body.text ?? "");
}

/** The schedule's approval request in the channel, once the delivery loop has posted it. */
async function requestOf(id: number, timeoutMs?: number): Promise<string> {
  return eventually(
    "the schedule's approval request",
    async () => (await world.testum.sql<{ approvalMessage: string | null }[]>`select approval_message from schedules where id = ${id}`)[0]?.approvalMessage ?? undefined,
    timeoutMs,
  );
}

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 1, testum: { env: { TESTUM_APPROVALS_REQUIRED: "2" } } });
  await world.addHost("web-1", world.ssh.hosts[0]!);
  for (const [user, role] of [
    [OPS, "operator"],
    [A1, "approver"],
    [A2, "approver"],
  ] as const) {
    expect(answerText(await world.slash(`grant <@${user}> ${role}`))).toContain(`is now ${role} on *`);
  }
});

afterAll(async () => {
  await world?.stop();
});

describe("risky schedules", () => {
  it("take as many distinct approvers as jobs, from the request message only; a run by hand asks again", async () => {
    await world.ssh.hosts[0]!.exec("mkdir -p ~/sched-scratch && touch ~/sched-scratch/keep");
    const reply = answerText(await world.slash(`schedule add "0 3 * * *" web-1 'rm -rf ~/sched-scratch' --name nightly-cleanup`, OPS));
    const id = Number(/#(\d+)/.exec(reply)![1]);
    const request = await requestOf(id);
    // The button's payload from another message (here, a job's parent) counts for nothing.
    const other = await world.slash("run web-1 'true'", OPS);
    const job = Number(/#(\d+)/.exec(answerText(other))![1]);
    const parent = await eventually("the job's parent message", async () => (await world.job(job)).parentMessage);
    expect(await clickAnswer(parent, `t1:schedule-approve:${id}`, A1)).toContain(`does not belong to the approval request of schedule #${id}`);

    expect(await clickAnswer(request, `t1:schedule-approve:${id}`, A1)).toContain("1 of 2 approvals");
    // Before, this one click approved it whatever TESTUM_APPROVALS_REQUIRED said.
    const state = async () => (await world.testum.sql<{ approvalState: string }[]>`select approval_state from schedules where id = ${id}`)[0]!.approvalState;
    expect(await state()).toBe("pending");
    expect(await clickAnswer(request, `t1:schedule-approve:${id}`, A1)).toContain("already approved");
    expect(await state()).toBe("pending");
    expect(await clickAnswer(request, `t1:schedule-approve:${id}`, A2)).toContain("You approved schedule");
    expect(await state()).toBe("approved");

    // Run by hand: a new request, nothing runs until two people approve it.
    const run = answerText(await world.slash(`schedule run ${id}`, OPS));
    expect(run).toContain("needs a new approval");
    const manual = Number(/Job #(\d+)/.exec(run)![1]);
    const waiting = await eventually("the request", async () => {
      const j = await world.job(manual);
      return j.approvalMessage ? j : undefined;
    });
    expect(waiting.status).toBe("awaiting_approval");
    expect(waiting.approvalsRequired).toBe(2);
    expect((await world.ssh.hosts[0]!.exec("ls ~/sched-scratch")).stdout).toBe("keep\n");
    await world.click(waiting.approvalMessage!, `t1:approve:${manual}`, A1);
    await world.click(waiting.approvalMessage!, `t1:approve:${manual}`, A2);
    expect((await world.finished(manual)).status).toBe("succeeded");
    expect((await world.ssh.hosts[0]!.exec("test -e ~/sched-scratch && echo there || echo gone")).stdout.trim()).toBe("gone");
  });

  it("are answered at once while Slack is down; the request is posted once Slack is back, and its buttons work", async () => {
    world.slack.outage({ status: 503 });
    let id = 0;
    try {
      const added = await world.slash(`schedule add "0 4 * * *" web-1 'rm -rf ~/outage-scratch' --name outage-cleanup`, OPS);
      expect(added.ms).toBeLessThan(1000);
      const reply = answerText(added);
      expect(reply).toContain("needs approval before it runs");
      id = Number(/#(\d+)/.exec(reply)![1]);
      // Recorded at once, and waiting for chat: nothing in the channel, the request's row keeps being tried.
      const [schedule] = await world.testum.sql<{ approvalState: string }[]>`select approval_state from schedules where id = ${id}`;
      expect(schedule!.approvalState).toBe("pending");
      await eventually("a delivery tried and refused", async () => {
        const [row] = await world.testum.sql<{ failures: number; message: string | null }[]>`
          select failures, message from job_messages where schedule_id = ${id} and slot = 'approval'`;
        return row && row.failures > 0 && row.message === null;
      });
      expect(world.slack.messages().some((m) => blockText(m.blocks).includes(`(#${id})`))).toBe(false);
    } finally {
      world.slack.outage(null);
    }
    const request = await requestOf(id, 45_000);
    const card = () => world.slack.message(request.split(":")[2]!, request.split(":")[3]!)!;
    expect(blockText(card().blocks)).toContain(`Approval needed for scheduled report "outage-cleanup" (#${id})`);
    // Posted once: one top-level message names the schedule.
    expect(world.slack.messages().filter((m) => !m.threadTs && blockText(m.blocks).includes(`(#${id})`))).toHaveLength(1);

    expect(await clickAnswer(request, `t1:schedule-approve:${id}`, A1)).toContain("1 of 2 approvals");
    expect(await clickAnswer(request, `t1:schedule-approve:${id}`, A2)).toContain("You approved schedule");
    const [row] = await world.testum.sql<{ approvalState: string }[]>`select approval_state from schedules where id = ${id}`;
    expect(row!.approvalState).toBe("approved");
    // The card shows the decision: a new version of the same message, edited in place.
    await eventually("the card to show the approval", () => !blockText(card().blocks).includes("Approval needed"));
    expect(card().blocks.some((b) => (b as { type?: string }).type === "actions")).toBe(false);
    await world.slash(`schedule rm ${id}`);
  });
});
