import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobIdFrom } from "../helpers/slack-world.js";
import { remoteProcesses } from "../helpers/sshd.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { eventually } from "../helpers/testum.js";
import { startFaultWorld, type FaultWorld } from "./harness.js";

// A host that goes away mid-command, and one that accepts TCP but never speaks SSH.

const S = 40_000 + (process.pid % 50_000) * 10;
let world: FaultWorld;
let silent: TcpProxy;

beforeAll(async () => {
  world = await startFaultWorld({ hosts: 2 });
  await world.addHost("s1", 0);
  await world.addHost("s2", 1);
  silent = await startTcpProxy({ host: "127.0.0.1", port: 9 }, "blackhole");
  await world.addHost("mute", 1, { address: "127.0.0.1", port: silent.port });
}, 120_000);

afterAll(async () => {
  await silent?.close();
  await world?.stop();
});

describe("hosts that fail", () => {
  it("a host stopped mid-command: its part fails as 'connection lost', the other host's finishes", async () => {
    const testum = await world.spawn("start");
    const id = jobIdFrom((await world.slash(testum, `run s1,s2 'sleep ${S + 1}; echo never' --timeout 2m`)).text);
    await eventually("the command to run on both", async () => (await remoteProcesses(new RegExp(`^sleep ${S + 1}$`))).length === 2, 30_000);
    await world.ssh.hosts[0]!.stop();
    // s2 is cancelled so the job ends; s1's part has already ended by itself.
    await eventually("s1's part to end", async () => (await world.tasks(id)).find((t) => t.hostName === "s1")?.status === "failed", 60_000);
    const s1 = (await world.tasks(id)).find((t) => t.hostName === "s1")!;
    expect(s1.error).toContain("connection to s1 was lost");
    await world.slash(testum, `cancel ${id}`);
    const job = await world.finished(id, 60_000);
    expect(job.status).toBe("cancelled");
    expect(await remoteProcesses(new RegExp(`^sleep ${S + 1}$`))).toHaveLength(0);
    // The channel shows the host's part failed (the job page and report give the reason).
    await eventually("the thread to show the outcome", async () => /Cancelled on 2 hosts[\s\S]*failed 1/.test(await world.threadText(id)));
    await world.ssh.hosts[0]!.start();
    testum.child.kill("SIGTERM");
    await testum.exited;
  }, 120_000);

  it("a host that accepts TCP and never answers: the job fails by the SSH handshake time limit, saying so", async () => {
    const testum = await world.spawn("start", { TESTUM_SSH_CONNECT_TIMEOUT: "4s" });
    const started = Date.now();
    const id = jobIdFrom((await world.slash(testum, "run mute 'echo hi'")).text);
    const job = await world.finished(id, 60_000);
    expect(job.status).toBe("failed");
    // The limit (4 s), not the default 20 s, and not a hang.
    expect(Date.now() - started).toBeLessThan(18_000);
    const [task] = await world.tasks(id);
    expect(task!.error).toContain("no SSH handshake within the time limit");
    await eventually("the thread to show the outcome", async () => (await world.threadText(id)).includes("could not connect"));
    testum.child.kill("SIGTERM");
    await testum.exited;
  }, 90_000);
});
