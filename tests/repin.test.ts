import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addHost } from "../src/core/hosts/hosts.js";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { startFakeSshServer, type FakeSshServer } from "./helpers/fake-sshd.js";
import { blockActionsBody, postSignedSlack } from "./helpers/slack-sign.js";
import { ADMIN, blockText, CHANNEL, SIGNING_SECRET, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";
import { testBox } from "./helpers/hosts.js";

const PASSWORD = "Prod-Root-Password-42";
const VIEWER = "U0VIEWER001";
let world: SlackWorld;
let mitm: FakeSshServer;

function text(res: { json?: Record<string, unknown> | undefined }): string {
  return `${String(res.json?.text ?? "")}\n${blockText((res.json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

/** The value of the first button in a private answer. */
function buttonOf(res: { json?: Record<string, unknown> | undefined }): string | undefined {
  for (const block of (res.json?.blocks as Array<{ elements?: Array<{ value?: string }> }>) ?? []) for (const el of block.elements ?? []) if (el.value) return el.value;
  return undefined;
}

/** Presses a button on a private (ephemeral) answer, as `user`; returns what the response URL got. */
async function press(value: string, user: string): Promise<string> {
  const responseUrl = world.slack.newResponseUrl({ channel: CHANNEL, userId: user });
  const raw = blockActionsBody({
    teamId: DEFAULT_TEAM_ID,
    userId: user,
    channelId: CHANNEL,
    messageTs: "1700000000.000100",
    actionId: "testum-0-0",
    value,
    responseUrl,
    triggerId: world.slack.issueTriggerId({ userId: user }),
  });
  expect((await postSignedSlack(`${world.testum.url}/slack/events`, raw, SIGNING_SECRET)).status).toBe(200);
  const body = await eventually(
    "the answer to the press",
    () => world.slack.responses().find((r) => r.url === responseUrl)?.body as { text?: string; blocks?: Record<string, unknown>[] } | undefined,
  );
  return `${body.text ?? ""}\n${blockText(body.blocks ?? [])}`;
}

const pinned = async (name: string) => (await world.testum.sql<{ fp: string | null }[]>`select host_key_fingerprint as fp from hosts where name = ${name}`)[0]!.fp;

beforeAll(async () => {
  [world, mitm] = await Promise.all([startSlackWorld({ hosts: 1 }), startFakeSshServer()]);
  const box = testBox();
  const real = world.ssh.hosts[0]!;
  // m1 was pinned to the real host's key; a server with another key now answers at its address.
  await addHost(world.testum.sql, box, {
    name: "m1",
    address: "127.0.0.1",
    port: mitm.port,
    username: "deploy",
    credential: { type: "password", password: PASSWORD },
    fingerprint: real.hostKeyFingerprint,
    createdBy: "test",
  });
  // m2 has a password and was never pinned.
  await addHost(world.testum.sql, box, {
    name: "m2",
    address: "127.0.0.1",
    port: mitm.port,
    username: "deploy",
    credential: { type: "password", password: PASSWORD },
    createdBy: "test",
  });
  expect(text(await world.slash(`grant <@${VIEWER}> viewer`))).toContain("is now viewer");
});

afterAll(async () => {
  await Promise.all([world?.stop(), mitm?.close()]);
});

describe("hosts repin", () => {
  it("shows the old and the presented key without sending any credential, and pins nothing yet", async () => {
    const old = await pinned("m1");
    const res = await world.slash("hosts repin m1");
    const shown = text(res);
    expect(shown).toContain("The host key of m1 is not the pinned one");
    expect(shown).toContain(`old: ${old}`);
    expect(shown).toContain(`presented now: ${mitm.fingerprint}`);
    expect(shown).toContain(`/testum hosts repin m1 ${mitm.fingerprint}`);
    expect(mitm.connections).toBeGreaterThan(0);
    // Before, the stored password reached this server here.
    expect(mitm.attempts()).toEqual([]);
    expect(await pinned("m1")).toBe(old);
    expect(buttonOf(res)).toBe(`t1:repin:m1:${mitm.fingerprint.slice(0, 27)}`);
  });

  it("pins on confirmation only: a wrong fingerprint pins nothing, a viewer's press is refused, an admin's press pins", async () => {
    const old = await pinned("m1");
    const other = `SHA256:${"A".repeat(43)}`;
    expect(text(await world.slash(`hosts repin m1 ${other}`))).toContain(`m1 now presents ${mitm.fingerprint}, not the key you confirmed (${other}); nothing was pinned`);
    expect(text(await world.slash("hosts repin m1 SHA256:short"))).toContain("is not a host key fingerprint");
    expect(await pinned("m1")).toBe(old);

    const button = buttonOf(await world.slash("hosts repin m1"))!;
    expect(await press(button, VIEWER)).toMatch(/you need admin \(the admin right\)/);
    expect(await pinned("m1")).toBe(old);
    expect(await press(button, ADMIN)).toContain(`new: ${mitm.fingerprint}`);
    expect(await pinned("m1")).toBe(mitm.fingerprint);
    expect(mitm.attempts()).toEqual([]);
    const audit = await world.testum.sql<{ outcome: string }[]>`select outcome from audit where action = 'host_key.repin' and target = 'm1' order by seq`;
    // The viewer's refused press is recorded under the same action as the repin it asked for.
    expect(audit.map((a) => a.outcome)).toEqual(["presented", "refused", "presented", "refused", "repinned"]);
  });

  it("never sends a password to a host whose key nobody pinned; once an admin confirmed the key, it does", async () => {
    // hosts test wraps its long lines to fit a message.
    const test = text(await world.slash("hosts test m2")).replace(/\s+/g, " ");
    expect(test).toContain("the host key of m2 is not pinned yet, and testum does not send a password to a host it cannot verify");
    const job = await world.slash("run m2 'true'");
    await eventually("the job to fail", async () => (await world.testum.sql`select 1 from jobs where target = 'm2' and status = 'failed'`).length === 1);
    expect(text(job)).toMatch(/#\d+/);
    expect(mitm.attempts()).toEqual([]);

    expect(text(await world.slash(`hosts repin m2 ${mitm.fingerprint}`))).toContain(`new: ${mitm.fingerprint}`);
    await world.slash("hosts test m2");
    expect(mitm.attempts()).toContainEqual({ method: "password", username: "deploy", password: PASSWORD });
  });
});
