import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobIdFrom, startSlackWorld, type SlackWorld, answerText } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";

// The worker's quick paths keep their behaviour:
// - a new connection runs its first command as a plain exec (sshd is the command's parent); its
//   long-lived shell session starts once the job has its results, and later jobs on the pooled
//   connection run there (the session's runner, Perl, is the parent);
// - the tails of running hosts, saved together about once a second, reach every host's row.

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

async function start(text: string): Promise<number> {
  return jobIdFrom(answerText(await world.slash(text)));
}

async function parents(target: string): Promise<string[]> {
  const job = await world.finished(await start(`run ${target} 'echo parent=$(ps -o comm= -p $PPID)'`), 60_000);
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

describe("a job's running hosts", () => {
  it("have their live tails saved in their rows while they run", async () => {
    const id = await start(`run w1,w2 'echo "line-one on $TESTUM_SSHD_HOST"; sleep 6; echo done'`);
    const rows = await eventually("both tails saved while running", async () => {
      const tasks = await world.testum.sql<{ hostName: string; status: string; tail: string | null }[]>`
        select host_name, status, tail from job_tasks where job_id = ${id} order by host_name`;
      return tasks.every((t) => t.status === "running" && t.tail?.includes("line-one on")) ? tasks : undefined;
    });
    expect(rows.map((r) => r.hostName)).toEqual(["w1", "w2"]);
    // Each row has its own host's line.
    expect(rows[0]!.tail).toContain(world.ssh.hosts[0]!.dir);
    expect(rows[1]!.tail).toContain(world.ssh.hosts[1]!.dir);
    expect((await world.finished(id, 60_000)).status).toBe("succeeded");
  }, 60_000);
});
