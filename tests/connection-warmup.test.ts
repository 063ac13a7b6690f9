import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockText, jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";

// A new connection runs its first command as a plain exec (sshd is the command's parent); its
// long-lived shell session starts once the job has its results, and later jobs on the pooled
// connection run there (the session's runner, Perl, is the parent).

let world: SlackWorld;

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 2 });
  // Keys pinned when added: a key pinned on first contact changes the host, and so its pool entry.
  await world.addHost("w1", world.ssh.hosts[0]!, { fingerprint: world.ssh.hosts[0]!.hostKeyFingerprint });
  await world.addHost("w2", world.ssh.hosts[1]!, { fingerprint: world.ssh.hosts[1]!.hostKeyFingerprint });
});

afterAll(async () => {
  await world?.stop();
});

async function parents(target: string): Promise<string[]> {
  const res = await world.slash(`run ${target} 'echo parent=$(ps -o comm= -p $PPID)'`);
  const job = await world.finished(jobIdFrom(`${String(res.json?.text ?? "")}\n${blockText((res.json?.blocks as Record<string, unknown>[]) ?? [])}`), 60_000);
  expect(job.status).toBe("succeeded");
  const tasks = await world.tasks(job.id);
  return tasks.map((t) => /parent=(\S+)/.exec(t.tail ?? "")?.[1] ?? `no parent in ${JSON.stringify(t.tail)}`);
}

describe("connections a job opens", () => {
  it("run their first command as an exec and the next ones in the shell session started after the job", async () => {
    expect(await parents("w1,w2")).toEqual(["sshd", "sshd"]);
    // The sessions start once the first job has its results.
    await eventually("each host's shell session to start", async () => {
      const runners = await Promise.all(world.ssh.hosts.map((h) => h.processes(/^perl -e use POSIX/)));
      return runners.every((r) => r.length === 1);
    });
    expect(await parents("w1,w2")).toEqual(["perl", "perl"]);
    expect(await parents("w1")).toEqual(["perl"]);
  }, 120_000);
});
