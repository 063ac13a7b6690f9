import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockText, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";

const OPS = "U0OPS000001"; // operator on *
const A1 = "U0APPROVE01";
const A2 = "U0APPROVE02";
let world: SlackWorld;

function text(res: { json?: Record<string, unknown> | undefined }): string {
  return `${String(res.json?.text ?? "")}\n${blockText((res.json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

/** Clicks and returns the private answer it got. */
async function clickAnswer(message: string, value: string, user: string): Promise<string> {
  const before = world.slack.responses().length;
  await world.click(message, value, user);
  const body = await eventually("the answer", () => (world.slack.responses().length > before ? (world.slack.responses().at(-1)!.body as { text?: string }) : undefined));
  return String(body.text ?? "");
}

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 1, testum: { env: { TESTUM_APPROVALS_REQUIRED: "2" } } });
  await world.addHost("web-1", world.ssh.hosts[0]!);
  for (const [user, role] of [
    [OPS, "operator"],
    [A1, "approver"],
    [A2, "approver"],
  ] as const) {
    expect(text(await world.slash(`grant <@${user}> ${role}`))).toContain(`is now ${role} on *`);
  }
});

afterAll(async () => {
  await world?.stop();
});

describe("risky schedules", () => {
  it("take as many distinct approvers as jobs, from the request message only; a run by hand asks again", async () => {
    await world.ssh.hosts[0]!.exec("mkdir -p ~/sched-scratch && touch ~/sched-scratch/keep");
    const reply = text(await world.slash(`schedule add "0 3 * * *" web-1 'rm -rf ~/sched-scratch' --name nightly-cleanup`, OPS));
    const id = Number(/#(\d+)/.exec(reply)![1]);
    const [row] = await world.testum.sql<{ approvalMessage: string }[]>`select approval_message from schedules where id = ${id}`;
    const request = row!.approvalMessage;
    // The button's payload from another message (here, a job's parent) counts for nothing.
    const other = await world.slash("run web-1 'true'", OPS);
    const job = Number(/#(\d+)/.exec(text(other))![1]);
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
    const run = text(await world.slash(`schedule run ${id}`, OPS));
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
});
