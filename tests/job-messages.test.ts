import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job } from "../src/core/jobs/jobs.js";
import type { FakeMessage } from "./fakes/slack-api.js";
import { blockText, CHANNEL, jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";

const BOB = "U0BOB000001"; // approver on *

let world: SlackWorld;

function text(res: { json?: Record<string, unknown> | undefined }): string {
  return `${String(res.json?.text ?? "")}\n${blockText((res.json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

/** The job's three messages as the channel shows them now. */
function shown(job: Job): { parent: FakeMessage; live: FakeMessage; approval: FakeMessage } {
  const ts = (ref: string | null) => ref!.split(":")[3]!;
  return {
    parent: world.slack.message(CHANNEL, ts(job.parentMessage))!,
    live: world.slack.message(CHANNEL, ts(job.liveMessage))!,
    approval: world.slack.message(CHANNEL, ts(job.approvalMessage))!,
  };
}

/** The payloads of every button on a message. */
function buttons(message: FakeMessage): string[] {
  return message.blocks.filter((b) => b.type === "actions").flatMap((b) => ((b.elements as Array<{ value?: string }>) ?? []).map((e) => String(e.value)));
}

/** Asks for a risky command and waits until its three messages are in chat. */
async function request(command: string): Promise<Job> {
  const res = await world.slash(command);
  expect(text(res)).toContain("needs approval");
  const id = jobIdFrom(text(res));
  return eventually("the job's messages to be posted", async () => {
    const job = await world.job(id);
    return job.parentMessage && job.liveMessage && job.approvalMessage ? job : undefined;
  });
}

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 1 });
  await world.addHost("web-1", world.ssh.hosts[0]!);
  expect(text(await world.slash(`grant <@${BOB}> approver`))).toContain("is now approver");
});

afterAll(async () => {
  await world?.stop();
});

describe("every message a job owns ends in a final state without buttons that can no longer act", () => {
  it("while waiting, parent and thread agree; after a reject nothing says queued and no button is left", async () => {
    const job = await request("run web-1 'rm -rf /tmp/testum-never-made'");
    const waiting = shown(job);
    expect(blockText(waiting.parent.blocks)).toContain("Waiting for approval");
    expect(blockText(waiting.live.blocks)).toContain("awaiting approval");
    expect(blockText(waiting.live.blocks)).not.toContain("queued");
    expect(buttons(waiting.live)).toEqual([`t1:cancel:${job.id}`]);
    expect(buttons(waiting.approval)).toEqual([`t1:approve:${job.id}`, `t1:reject:${job.id}`]);

    expect(text(await world.slash(`reject ${job.id} not now`, BOB))).toContain(`You rejected job #${job.id}`);
    const final = await eventually("every message to show the rejection", () => {
      const now = shown(job);
      return blockText(now.live.blocks).includes("rejected") && blockText(now.parent.blocks).includes("Rejected") && buttons(now.approval).length === 0 ? now : undefined;
    });
    expect(buttons(final.live)).toEqual([]);
    expect(buttons(final.parent)).toEqual([]);
    expect(blockText(final.approval.blocks)).toContain("rejected by");
    expect(blockText(final.live.blocks)).not.toMatch(/queued|Waiting for output/);
    // The end is audited once, in the one shape (it takes its place in the audit chain a moment after the end).
    const ends = await eventually("the end's audit record", async () => {
      const rows = await world.testum.sql`select outcome, detail from audit where action = 'job.end' and detail->>'job' = ${String(job.id)}`;
      return rows.length > 0 ? rows : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(await world.testum.sql`select 1 from audit where action = 'job.end' and detail->>'job' = ${String(job.id)}`).toHaveLength(1);
    expect(ends[0]).toMatchObject({ outcome: "rejected", detail: { job: job.id } });
  });

  it("a cancel while waiting for approval takes the Approve and Reject buttons off the request", async () => {
    const job = await request("run web-1 'rm -rf /tmp/testum-never-made-either'");
    expect(text(await world.slash(`cancel ${job.id}`))).toContain("cancelled before it started");
    const final = await eventually("every message to show the cancel", () => {
      const now = shown(job);
      return buttons(now.approval).length === 0 && buttons(now.live).length === 0 && blockText(now.parent.blocks).includes("Cancelled") ? now : undefined;
    });
    expect(blockText(final.approval.blocks)).toContain("cancelled");
    expect(blockText(final.live.blocks)).toContain("cancelled");
    // A click on the old Approve button of a copy of the card changes nothing.
    await world.click(job.approvalMessage!, `t1:approve:${job.id}`, BOB);
    await eventually("the answer", () => JSON.stringify(world.slack.responses().at(-1)?.body ?? "").includes("is not waiting for approval"));
    expect((await world.job(job.id)).status).toBe("cancelled");
  });
});
