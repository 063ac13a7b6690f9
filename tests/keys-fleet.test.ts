import { execFile, execFileSync } from "node:child_process";
import { appendFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addHost } from "../src/core/hosts/hosts.js";
import { startSlackWorld, type SlackWorld, answerText } from "./helpers/slack-world.js";
import { testBox } from "./helpers/hosts.js";

// Editing authorized_keys on many hosts at once, from chat (the web process's pool
// of 10 database connections) and from the CLI (8): every host is reached with no
// database transaction open, so the pool never runs dry and the web side keeps
// answering while the edits run.

const HOSTS = 40;
let world: SlackWorld;

async function cli(args: string[]) {
  try {
    const res = await promisify(execFile)(process.execPath, ["bin/testum.js", ...args], { env: { ...process.env, ...world.testum.env }, encoding: "utf8", timeout: 120_000 });
    return { code: 0, stdout: res.stdout, stderr: res.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Polls /readyz while `work` runs; returns the statuses seen. */
async function readinessDuring<T>(work: Promise<T>): Promise<{ result: T; statuses: number[] }> {
  const statuses: number[] = [];
  let done = false;
  const poller = (async () => {
    while (!done) {
      const res = await fetch(`${world.testum.url}/readyz`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
      statuses.push(res?.status ?? 0);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    return { result: await work, statuses };
  } finally {
    done = true;
    await poller;
  }
}

function keygen(comment: string): string {
  const dir = execFileSync("mktemp", ["-d"], { encoding: "utf8" }).trim();
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", join(dir, "k")], { timeout: 30_000 });
  return execFileSync("cat", [join(dir, "k.pub")], { encoding: "utf8" }).trim();
}

const blob = (line: string) => line.split(" ")[1]!;

async function keysOnEveryHost(): Promise<string[]> {
  return Promise.all(world.ssh.hosts.map((h) => readFile(h.authorizedKeysPath, "utf8").catch(() => "")));
}

beforeAll(async () => {
  world = await startSlackWorld({ hosts: HOSTS });
  const box = testBox();
  const identity = (await cli(["identity"])).stdout.trim();
  expect(identity).toMatch(/^ssh-ed25519 /);
  // Every host trusts testum's identity key and carries the tag the commands select by.
  await Promise.all(
    world.ssh.hosts.map(async (h, i) => {
      await appendFile(h.authorizedKeysPath, `${identity}\n`);
      await addHost(world.testum.sql, box, {
        name: `fleet-${String(i).padStart(2, "0")}`,
        address: h.host,
        port: h.port,
        username: world.ssh.user,
        tags: { fleet: "yes" },
        createdBy: "test",
      });
    }),
  );
}, 180_000);

afterAll(async () => {
  await world?.stop();
});

describe(`keys on ${HOSTS} hosts at once`, () => {
  const mallory = keygen("mallory@laptop");
  const trent = keygen("trent@desk");

  it("deploys and revokes from chat while the web side stays ready", async () => {
    expect(answerText(await world.slash(`keys add mallory ${mallory}`))).toContain("Added key mallory");
    const deploy = await readinessDuring(world.slash("keys deploy mallory fleet=yes"));
    const said = answerText(deploy.result);
    expect(said).toContain(`Deployed mallory to ${HOSTS} hosts`);
    expect(said).not.toMatch(/failed/i);
    expect(deploy.statuses.length).toBeGreaterThan(0);
    expect(deploy.statuses.every((s) => s === 200)).toBe(true);
    for (const content of await keysOnEveryHost()) expect(content).toContain(blob(mallory));

    const revoke = await readinessDuring(world.slash("keys revoke mallory fleet=yes"));
    expect(answerText(revoke.result)).not.toMatch(/failed/i);
    expect(revoke.statuses.every((s) => s === 200)).toBe(true);
    for (const content of await keysOnEveryHost()) expect(content).not.toContain(blob(mallory));
    // Chat commands still answer right away afterwards.
    expect(answerText(await world.slash("whoami"))).toContain("admin");
  }, 240_000);

  it("deploys and revokes from the CLI, and chat deploys at the same time lose no edit", async () => {
    expect(answerText(await world.slash(`keys add trent ${trent}`))).toContain("Added key trent");
    expect(answerText(await world.slash(`keys add mallory2 ${keygen("mallory2@x")}`))).toContain("Added key mallory2");
    // The CLI and the web process edit the same 40 files at once.
    const [fromCli, fromChat] = await Promise.all([cli(["keys", "deploy", "trent", "fleet=yes"]), world.slash("keys deploy mallory2 fleet=yes")]);
    expect(fromCli.stderr).toBe("");
    expect(fromCli.code).toBe(0);
    expect(fromCli.stdout.match(/^ok\s/gm)?.length).toBe(HOSTS);
    expect(answerText(fromChat)).toContain(`Deployed mallory2 to ${HOSTS} hosts`);
    const contents = await keysOnEveryHost();
    for (const content of contents) {
      expect(content).toContain(blob(trent));
      expect(content).toContain(blob(world.ssh.clientPublicKey)); // lines testum does not manage stay
    }
    const revoke = await cli(["keys", "revoke", "trent", "fleet=yes"]);
    expect(revoke.code).toBe(0);
    for (const content of await keysOnEveryHost()) expect(content).not.toContain(blob(trent));
  }, 240_000);

  it("rotates testum's identity with --deploy from the CLI on every host", async () => {
    const before = (await cli(["identity"])).stdout.trim();
    const rotated = await readinessDuring(cli(["identity", "rotate", "--deploy"]));
    expect(rotated.result.stderr).toBe("");
    expect(rotated.result.code).toBe(0);
    expect(rotated.statuses.every((s) => s === 200)).toBe(true);
    const after = (await cli(["identity"])).stdout.trim();
    expect(after).not.toBe(before);
    for (const content of await keysOnEveryHost()) expect(content).toContain(blob(after));
    // A host checked from chat accepts the new key.
    expect(answerText(await world.slash("hosts test fleet-17"))).toContain("authentication: accepted");
  }, 240_000);
});
