import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobIdFrom, startSlackWorld, type SlackWorld, answerText } from "./helpers/slack-world.js";

// Jobs on one host at once share the worker's connections to it: a command
// runs in a session of its own on a connection another job is using before a
// new connection (and its SSH handshake) is made. A host whose sshd allows
// fewer sessions per connection (MaxSessions) refuses the shared session: the
// command then runs on a connection of its own, and every job still runs.

let world: SlackWorld;

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 2, sshd: { extraConfig: ["Match all", "  MaxSessions 1"] } });
  await world.addHost("one", world.ssh.hosts[0]!, { fingerprint: world.ssh.hosts[0]!.hostKeyFingerprint });
});

afterAll(async () => {
  await world?.stop();
});

async function start(text: string): Promise<number> {
  return jobIdFrom(answerText(await world.slash(text)));
}

describe("jobs on one host at once", () => {
  it("all run, also where the host allows one session per connection", async () => {
    const ids = await Promise.all([1, 2, 3, 4].map((n) => start(`run one 'sleep 1; echo "run-${n} done"'`)));
    const jobs = await Promise.all(ids.map((id) => world.finished(id, 60_000)));
    expect(jobs.map((j) => j.status)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    const tails = await Promise.all(ids.map(async (id) => (await world.tasks(id))[0]!.tail ?? ""));
    expect(tails.map((t, i) => t.includes(`run-${i + 1} done`))).toEqual([true, true, true, true]);
  }, 90_000);
});
