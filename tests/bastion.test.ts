import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFile } from "node:fs/promises";
import { parseOpenSshConfig } from "../src/cli/openssh-config.js";
import { importInventory, setCredential } from "../src/core/hosts/host-admin.js";
import { parseAnsibleInventory } from "../src/core/hosts/inventory.js";
import { addHost } from "../src/core/hosts/hosts.js";
import type { Job } from "../src/core/jobs/jobs.js";
import { startHiddenNetwork, type Exposure, type HiddenNetwork } from "./helpers/hidden-net.js";
import { blockText, CHANNEL, jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { remoteProcesses, startSshHosts, type SshHostSet } from "./helpers/sshd.js";
import { eventually } from "./helpers/testum.js";
import { testBox } from "./helpers/hosts.js";

// Bastions b1 and b2 and targets t1…t3 live in a network namespace of their own: only b1 is
// exposed (at a loopback port outside), so testum reaches everything else through b1.
// b1 and b2 listen on 127.0.0.1 inside, t1…t3 on 127.0.0.2 inside.

/** Sleep lengths unique to this run: processes another run left behind are never mistaken for ours. */
const S = 20_000 + (process.pid % 50_000) * 10;
const OPERATOR = "U0OPERATOR1";
let world: SlackWorld;
let net: HiddenNetwork;
let bastions: SshHostSet;
let targets: SshHostSet;
let door: Exposure;
const box = testBox();

function text(res: { json?: Record<string, unknown> | undefined }): string {
  return `${String(res.json?.text ?? "")}\n${blockText((res.json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

const parentText = (job: Job) => blockText(world.slack.message(CHANNEL, job.parentMessage!.split(":")[3]!)!.blocks);

async function runJob(command: string, user?: string): Promise<{ job: Job; parent: string }> {
  const res = await world.slash(command, user);
  const job = await world.finished(jobIdFrom(text(res)), 60_000);
  await eventually("the parent to show the outcome", () => !/Running on|Queued on/.test(parentText(job)), 30_000);
  return { job, parent: parentText(job) };
}

const pinned = async (name: string) => (await world.testum.sql<{ fp: string | null }[]>`select host_key_fingerprint as fp from hosts where name = ${name}`)[0]!.fp;

beforeAll(async () => {
  net = await startHiddenNetwork();
  [world, bastions, targets] = await Promise.all([
    startSlackWorld({ hosts: 1 }),
    startSshHosts(2, { namePrefix: "b", netns: net.ns }),
    startSshHosts(3, { namePrefix: "t", netns: net.ns, listenAddress: "127.0.0.2" }),
  ]);
  door = await net.expose("127.0.0.1", bastions.hosts[0]!.port);
  const add = (name: string, set: SshHostSet, address: string, port: number, via?: string) =>
    addHost(world.testum.sql, box, { name, address, port, username: set.user, credential: { type: "key", privateKey: set.clientPrivateKey }, via, createdBy: "test" });
  await add("b1", bastions, "127.0.0.1", door.port);
  // b2 is reached through b1 (and t3 through b2: two hops).
  await add("b2", bastions, "127.0.0.1", bastions.hosts[1]!.port, "b1");
  await world.testum.sql`update hosts set host_key_fingerprint = ${bastions.hosts[0]!.hostKeyFingerprint}, host_key_pinned_at = now() where name = 'b1'`;
  expect(text(await world.slash(`grant <@${OPERATOR}> operator on t1`))).toContain("is now operator on t1");
}, 120_000);

afterAll(async () => {
  await world?.stop();
  await Promise.all([bastions?.stop(), targets?.stop()]);
  await net?.stop();
});

describe("hosts behind a bastion", () => {
  it("adds hosts with --via from chat, shows the route, and refuses an unknown bastion or a list", async () => {
    const [t1, t2, t3] = targets.hosts;
    // Chat adds hosts that trust testum's identity key; the test hosts trust their set's key instead.
    for (const [name, h, via] of [
      ["t1", t1!, "b1"],
      ["t2", t2!, "b1"],
      ["t3", t3!, "b2"],
    ] as const) {
      const added = text(await world.slash(`hosts add ${name} ${targets.user}@127.0.0.2:${h.port} role=hidden --via ${via}`));
      expect(added).toContain(`testum reaches ${name} through ${via}`);
    }
    for (const name of ["t1", "t2", "t3"]) await setCredential(world.testum.sql, box, "test", name, { type: "key", privateKey: targets.clientPrivateKey });
    expect(text(await world.slash("hosts show t3"))).toMatch(/via:\s+b2/);
    expect(text(await world.slash("hosts show b1"))).toMatch(/via:\s+directly/);
    expect(text(await world.slash("hosts"))).toMatch(/\bt1\s[^\n]*\n\s+[^\n]*via b1/);
    expect(text(await world.slash(`hosts add x1 u@127.0.0.2 --via nope`))).toContain("no host named nope to go through");
    expect(text(await world.slash(`hosts add x1 u@127.0.0.2 --via b1,b2`))).toContain("--via takes one bastion");
    expect(await world.testum.sql`select 1 from hosts where name = 'x1'`).toHaveLength(0);
  });

  it("the targets are out of reach without the bastion", async () => {
    const [t1] = targets.hosts;
    await addHost(world.testum.sql, box, {
      name: "t1-direct",
      address: "127.0.0.2",
      port: t1!.port,
      username: targets.user,
      credential: { type: "key", privateKey: targets.clientPrivateKey },
      createdBy: "test",
    });
    const shown = text(await world.slash("hosts test t1-direct"));
    expect(shown).toContain("reachable:      no");
    await world.slash("hosts rm t1-direct");
  });

  it("runs a command on hosts behind one bastion over one shared bastion connection, pinning each host's key", async () => {
    expect(door.accepted).toBe(0);
    const { job, parent } = await runJob(`run role=hidden 'echo "on $TESTUM_SSHD_HOST"'`);
    expect(job.status).toBe("succeeded");
    const tasks = await world.tasks(job.id);
    expect(tasks.map((t) => t.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(parent).toContain("Succeeded on all 3 hosts");
    for (const [i, name] of ["t1", "t2", "t3"].entries()) expect(await pinned(name)).toBe(targets.hosts[i]!.hostKeyFingerprint);
    expect(await pinned("b2")).toBe(bastions.hosts[1]!.hostKeyFingerprint);
    // Three targets, two of them straight behind b1 and one behind b2 behind b1: one connection to b1.
    expect(door.accepted).toBe(1);
    expect(door.open).toBe(1);
    const log = await world.testum.sql<{ tail: string }[]>`select tail from job_tasks where job_id = ${job.id} order by host_name`;
    expect(log.map((t) => t.tail.trim())).toEqual(targets.hosts.map((h) => `on ${h.dir}`));

    // Again, warm: no new connection to the bastion.
    expect((await runJob(`run role=hidden 'true'`)).job.status).toBe("succeeded");
    expect(door.accepted).toBe(1);
  });

  it("needs no right on the bastion to use a host behind it", async () => {
    const { job } = await runJob(`run t1 'echo fine'`, OPERATOR);
    expect(job.status).toBe("succeeded");
    expect(text(await world.slash(`run b1 'echo no'`, OPERATOR))).toMatch(/you need operator|not allowed/i);
  });

  it("hosts test, repin and keys status work through the bastion", async () => {
    const shown = text(await world.slash("hosts test t3"));
    expect(shown).toContain("t3 works");
    expect(shown).toContain(targets.hosts[2]!.hostKeyFingerprint);
    // authorized_keys on t1 holds the test key only: read through the bastion.
    expect(text(await world.slash("keys status t1"))).toMatch(/1 line not managed by testum/);
    expect(text(await world.slash("hosts repin t2"))).toContain(`t2's host key is unchanged: ${targets.hosts[1]!.hostKeyFingerprint}`);
  });

  it("cancel and the time limit stop the command on a host behind the bastion", async () => {
    const res = await world.slash(`run t1 'sleep ${S + 1} & sh -c "sleep ${S + 2}"; wait'`);
    const jobId = jobIdFrom(text(res));
    const sleepers = () => remoteProcesses(new RegExp(`^sleep (${S + 1}|${S + 2})$`));
    await eventually("the command to run on t1", async () => (await sleepers()).length === 2, 30_000);
    expect((await sleepers()).every((p) => p.hostDir === targets.hosts[0]!.dir)).toBe(true);
    expect(text(await world.slash(`cancel ${jobId}`))).toContain(`Cancelling job #${jobId}`);
    expect((await world.finished(jobId, 30_000)).status).toBe("cancelled");
    await eventually("no sleep left on t1", async () => (await sleepers()).length === 0, 15_000);

    const timed = await world.slash(`run t2 --timeout 2s 'sleep ${S + 3}'`);
    const timedId = jobIdFrom(text(timed));
    expect((await world.finished(timedId, 30_000)).status).toBe("timed_out");
    await eventually("no sleep left on t2", async () => (await remoteProcesses(new RegExp(`^sleep ${S + 3}$`))).length === 0, 15_000);
  });

  it("refuses a target whose host key changed, and says which host it was", async () => {
    const fresh = await targets.hosts[1]!.regenerateHostKey();
    const { job } = await runJob(`run t2 'echo ran-$((40+2))'`);
    expect(job.status).toBe("failed");
    const [task] = await world.tasks(job.id);
    expect(task!.errorCode).toBe("host_key_mismatch");
    expect(task!.error).toContain("host key of t2");
    expect(task!.tail ?? "").not.toContain("ran-42");
    const [audit] = await world.testum.sql<{ target: string }[]>`select target from audit where action = 'host_key.mismatch' and detail->>'job' = ${String(job.id)}`;
    expect(audit!.target).toBe("t2");
    // Repinned through the bastion, it works again.
    expect(text(await world.slash(`hosts repin t2 ${fresh}`))).toContain(`new: ${fresh}`);
    expect((await runJob(`run t2 'true'`)).job.status).toBe("succeeded");
  });

  it("refuses every host behind a bastion whose host key changed", async () => {
    const old = await pinned("b1");
    const fresh = await bastions.hosts[0]!.regenerateHostKey();
    const { job } = await runJob(`run t1 'echo ran-$((40+2))'`);
    expect(job.status).toBe("failed");
    const [task] = await world.tasks(job.id);
    expect(task!.errorCode).toBe("host_key_mismatch");
    expect(task!.error).toContain("host key of b1");
    expect(await pinned("b1")).toBe(old);
    const [audit] = await world.testum.sql<{ target: string }[]>`select target from audit where action = 'host_key.mismatch' and detail->>'job' = ${String(job.id)}`;
    expect(audit!.target).toBe("b1");
    // The target's key cannot be read either: nothing is sent through an unverified bastion.
    expect(text(await world.slash("hosts repin t1"))).toContain("host key of b1");
    expect(text(await world.slash(`hosts repin b1 ${fresh}`))).toContain(`new: ${fresh}`);
    expect((await runJob(`run t1 'true'`)).job.status).toBe("succeeded");
  });

  it("refuses a route that loops, and removing a bastion others go through", async () => {
    expect(text(await world.slash("hosts via b1 t3"))).toContain("the route comes back to itself (b1 → t3 → b2 → b1)");
    expect(text(await world.slash("hosts via b2 b2"))).toContain("route comes back to itself");
    const refused = text(await world.slash("hosts rm b1"));
    expect(refused).toContain("b1 is the bastion for b2, t1, t2");
    expect(await world.testum.sql`select 1 from hosts where name = 'b1'`).toHaveLength(1);
    // Sent another way, the host follows the new route.
    expect(text(await world.slash("hosts via t2 b2"))).toContain("t2 now goes through b2 (was: b1)");
    expect((await runJob(`run t2 'true'`)).job.status).toBe("succeeded");
    expect(text(await world.slash("hosts via t2"))).toContain("t2 is now reached directly (was: b2)");
    const direct = await runJob(`run t2 'true'`);
    expect(direct.job.status).toBe("failed");
    const audit = await world.testum.sql<{ outcome: string }[]>`select outcome from audit where action = 'host.via' and target = 't2' order by seq`;
    expect(audit.map((a) => a.outcome)).toEqual(["routed", "direct"]);
  });

  it("imports hosts behind a bastion from an OpenSSH config (ProxyJump, ProxyCommand ssh -W) and an Ansible inventory, and lists what it cannot", async () => {
    const [t1, t2, t3] = targets.hosts;
    const readKey = async (path: string) => ({ type: "key" as const, privateKey: await readFile(path, "utf8") });
    const config = parseOpenSshConfig(`
Host ssh-a
  HostName 127.0.0.2
  Port ${t1!.port}
  ProxyJump b1

Host ssh-b
  HostName 127.0.0.2
  Port ${t2!.port}
  # b1 named by its address and port, as a laptop's config would
  ProxyCommand ssh -W %h:%p ${targets.user}@127.0.0.1:${door.port}

Host ssh-c
  HostName 127.0.0.2
  Port ${t3!.port}
  ProxyJump b2,b1

Host ssh-d
  HostName 127.0.0.2
  ProxyJump nowhere.example

Host ssh-*
  User ${targets.user}
  IdentityFile ${targets.clientKeyPath}
`);
    const fromSsh = await importInventory(world.testum.sql, box, "test", config, readKey, "root");
    expect(fromSsh.added.sort()).toEqual(["ssh-a", "ssh-b"]);
    expect(fromSsh.via).toEqual({ "ssh-a": "b1", "ssh-b": "b1" });
    const why = Object.fromEntries(fromSsh.skipped.map((s) => [s.name, s.reason]));
    expect(why["ssh-c"]).toContain("b1 does not itself go through b2");
    expect(why["ssh-d"]).toContain("the bastion nowhere.example is neither in this file nor registered");
    expect(why["ssh-*"]).toMatch(/pattern/);

    const inventory = parseAnsibleInventory(`
[hidden]
ans-a ansible_host=127.0.0.2 ansible_port=${t1!.port}
ans-b ansible_host=127.0.0.2 ansible_port=${t3!.port} ansible_ssh_common_args='-o ProxyJump=b2'
ans-c ansible_host=127.0.0.2 ansible_ssh_common_args='-o ProxyCommand="nc %h %p"'

[hidden:vars]
ansible_user=${targets.user}
ansible_ssh_private_key_file=${targets.clientKeyPath}
ansible_ssh_common_args='-o ProxyJump=b1'
`);
    const fromAnsible = await importInventory(world.testum.sql, box, "test", inventory, readKey, "root");
    expect(fromAnsible.added.sort()).toEqual(["ans-a", "ans-b"]);
    expect(fromAnsible.via).toEqual({ "ans-a": "b1", "ans-b": "b2" });
    expect(fromAnsible.skipped).toEqual([{ name: "ans-c", reason: expect.stringContaining('is not "ssh -W %h:%p HOST"') }]);

    const accepted = door.accepted;
    const { job } = await runJob(`run ssh-a,ssh-b,ans-a,ans-b 'echo "on $TESTUM_SSHD_HOST"'`);
    expect(job.status).toBe("succeeded");
    const log = await world.testum.sql<{ tail: string; hostName: string }[]>`select tail, host_name from job_tasks where job_id = ${job.id} order by host_name`;
    expect(Object.fromEntries(log.map((t) => [t.hostName, t.tail.trim()]))).toEqual({
      "ans-a": `on ${t1!.dir}`,
      "ans-b": `on ${t3!.dir}`,
      "ssh-a": `on ${t1!.dir}`,
      "ssh-b": `on ${t2!.dir}`,
    });
    // Still the one bastion connection, if it was open; at most one new one otherwise.
    expect(door.accepted - accepted).toBeLessThanOrEqual(1);
  });

  it("tries a bastion that is down once for all the hosts behind it, and says so on each", async () => {
    await bastions.hosts[0]!.stop();
    const before = door.accepted;
    const { job } = await runJob(`run t1,t3,ssh-a,ssh-b,ans-a 'true'`);
    expect(job.status).toBe("failed");
    const tasks = await world.tasks(job.id);
    expect(tasks).toHaveLength(5);
    // The exposure takes the connection and the bastion behind it is gone: the handshake never comes.
    for (const task of tasks) expect(task.error).toMatch(/^SSH to b1 \(testum-ssh@127\.0\.0\.1:\d+\) failed|^could not connect to b1 /);
    // One attempt, shared by every host that asked while it was under way or just failed (a host
    // that gets to it more than two seconds later, on a very busy machine, tries again).
    expect(door.accepted - before).toBeGreaterThanOrEqual(1);
    expect(door.accepted - before).toBeLessThan(tasks.length);
    await bastions.hosts[0]!.start();
    // The failure is kept for two seconds after it happened; then the bastion is tried again.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await runJob(`run t1,t3,ssh-a 'true'`)).job.status).toBe("succeeded");
  });
});
