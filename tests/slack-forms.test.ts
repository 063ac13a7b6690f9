import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { postSignedSlack, viewSubmissionBody } from "./helpers/slack-sign.js";
import { ADMIN, blockText, CHANNEL, SIGNING_SECRET, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";

let world: SlackWorld;

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 1 });
  await world.addHost("db-1", world.ssh.hosts[0]!);
});

afterAll(async () => {
  await world?.stop();
});

/** Opens the script form for `target`; the form as the fake Slack holds it. */
async function openScriptForm(target: string) {
  const before = world.slack.views().length;
  expect((await world.slash(`script ${target}`)).status).toBe(200);
  return eventually("the script form to open", () => world.slack.views()[before]);
}

/** Submits `script` in an open form; Slack's answer to the submission. */
async function submit(view: Awaited<ReturnType<typeof openScriptForm>>, script: string): Promise<Record<string, unknown>> {
  const raw = viewSubmissionBody({
    teamId: DEFAULT_TEAM_ID,
    userId: ADMIN,
    viewId: view.id,
    callbackId: String(view.view.callback_id),
    privateMetadata: CHANNEL,
    values: { script },
  });
  const res = await postSignedSlack(`${world.testum.url}/slack/events`, raw, SIGNING_SECRET);
  expect(res.status).toBe(200);
  return res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {};
}

const jobCount = async () => Number((await world.testum.sql<{ n: number }[]>`select count(*)::int as n from jobs`)[0]!.n);

describe("Slack forms", () => {
  it("closes the form once its job is asked for, also when the job waits for approval: submitting twice would ask twice", async () => {
    const before = await jobCount();
    const answer = await submit(await openScriptForm("db-1"), "rm -rf ~/form-scratch\necho done");
    expect(answer.response_action).toBe("update");
    const text = blockText(((answer.view as Record<string, unknown>).blocks as Record<string, unknown>[]) ?? []);
    expect(text).toMatch(/needs approval/i);
    expect(text).toContain("recursive rm");
    expect(await jobCount()).toBe(before + 1);
    const [job] = await world.testum.sql<{ status: string }[]>`select status from jobs order by id desc limit 1`;
    expect(job!.status).toBe("awaiting_approval");
  });

  it("keeps the form open with the reason under its field when the submission is refused, and does nothing", async () => {
    const before = await jobCount();
    // The form was opened for a host that is gone by the time it is submitted.
    const view = await openScriptForm("db-1");
    expect((await world.slash("hosts rm db-1")).status).toBe(200);
    const answer = (await submit(view, "echo hello")) as { response_action?: string; errors?: Record<string, string> };
    expect(answer.response_action).toBe("errors");
    expect(answer.errors?.script).toContain("db-1");
    expect(await jobCount()).toBe(before);
  });
});
