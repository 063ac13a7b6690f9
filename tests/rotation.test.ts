import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockText, jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { TEST_MASTER_KEY } from "./helpers/testum.js";

let world: SlackWorld;
let dir: string;

/** Runs the testum CLI against the world's database; never throws on a non-zero exit. */
async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const res = await promisify(execFile)(process.execPath, ["bin/testum.js", ...args], { env: { ...process.env, ...world.testum.env, ...env }, encoding: "utf8" });
    return { code: 0, stdout: res.stdout, stderr: res.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function text(res: { json?: Record<string, unknown> | undefined }): string {
  return `${String(res.json?.text ?? "")}\n${blockText((res.json?.blocks as Record<string, unknown>[]) ?? [])}`;
}

beforeAll(async () => {
  world = await startSlackWorld({ hosts: 3 });
  dir = mkdtempSync(join(tmpdir(), "testum-rotation-"));
  // web-1 trusts testum's identity; db-1 has a stored key.
  await world.slash(`hosts add web-1 ${world.ssh.user}@127.0.0.1:${world.ssh.hosts[0]!.port}`);
  const identity = (await cli(["identity"])).stdout.trim();
  expect(identity).toMatch(/^ssh-ed25519 /);
  await world.ssh.hosts[0]!.exec(`printf '%s\\n' '${identity}' >> ~/.ssh/authorized_keys`);
  await world.addHost("db-1", world.ssh.hosts[1]!);
});

afterAll(async () => {
  await world?.stop();
});

describe("importing hosts", () => {
  it("reads an OpenSSH client config and reports what it added and skipped", async () => {
    const keyPath = join(dir, "id_test");
    writeFileSync(keyPath, world.ssh.clientPrivateKey, { mode: 0o600 });
    const config = join(dir, "ssh_config");
    writeFileSync(
      config,
      [
        "Host imported-1",
        "  HostName 127.0.0.1",
        `  Port ${world.ssh.hosts[2]!.port}`,
        `  User ${world.ssh.user}`,
        `  IdentityFile ${keyPath}`,
        "",
        "Host *.corp",
        "  User admin",
        "",
        "Host Bad:Name",
        "  HostName 10.0.0.9",
      ].join("\n"),
    );
    const res = await cli(["hosts", "import", config]);
    expect(res.stdout).toContain("an OpenSSH client config");
    expect(res.stdout).toContain("Added 1: imported-1");
    expect(res.stdout).toMatch(/\*\.corp: Host \*\.corp: a pattern, not a single host/);
    expect(res.stdout).toMatch(/Bad:Name: .*not a valid testum host name/);
    expect(res.code).toBe(1);
    const test = await cli(["hosts", "test", "imported-1"]);
    expect(test.stdout).toContain("authentication: accepted");
    expect(test.code).toBe(0);
    // A second import updates instead of adding.
    expect((await cli(["hosts", "import", config])).stdout).toContain("Updated 1: imported-1");
  });

  it("reads an Ansible inventory, groups becoming tags", async () => {
    const inventory = join(dir, "hosts.ini");
    writeFileSync(
      inventory,
      [
        "[web]",
        "ans-web-1 ansible_host=10.1.0.1 ansible_user=deploy",
        "ans-web-2 ansible_host=10.1.0.2 ansible_port=2222",
        "",
        "[prod:children]",
        "web",
        "",
        "[db]",
        "ans-db-[1:3]",
      ].join("\n"),
    );
    const res = await cli(["hosts", "import", inventory, "--user", "ops"]);
    expect(res.stdout).toContain("an Ansible inventory");
    expect(res.stdout).toContain("Added 2: ans-web-1, ans-web-2");
    expect(res.stdout).toMatch(/ans-db-\[1:3\]: line 9: host ranges are not imported/);
    const rows = await world.testum.sql`select name, username, port, tags, auth_method from hosts where name like 'ans-%' order by name`;
    expect(rows).toEqual([
      { name: "ans-web-1", username: "deploy", port: 22, tags: { web: "yes", prod: "yes" }, authMethod: "identity" },
      { name: "ans-web-2", username: "ops", port: 2222, tags: { web: "yes", prod: "yes" }, authMethod: "identity" },
    ]);
    await world.testum.sql`delete from hosts where name like 'ans-%'`;
  });
});

describe("rotations", () => {
  it("rotates testum's identity: deploys, checks every host, then retires the old key", async () => {
    const before = (await cli(["identity"])).stdout.trim();
    const res = await cli(["identity", "rotate", "--deploy"]);
    expect(res.stdout).toContain("Every host accepts the new key");
    expect(res.code).toBe(0);
    const after = (await cli(["identity"])).stdout.trim();
    expect(after).not.toBe(before);
    const file = (await world.ssh.hosts[0]!.exec("cat ~/.ssh/authorized_keys")).stdout;
    expect(file).toContain(`${after} testum:identity:`);
    // The old key was put there by hand, outside testum's block; remove it to prove the new one is used.
    await world.ssh.hosts[0]!.exec(`grep -vF '${before}' ~/.ssh/authorized_keys > ~/ak && cat ~/ak > ~/.ssh/authorized_keys`);
    const job = await world.finished(jobIdFrom(text(await world.slash("run web-1 'echo rotated'"))));
    expect(job.status).toBe("succeeded");
    const states = await world.testum.sql`select state from identity_keys order by id`;
    expect(states.map((r) => r.state)).toEqual(["retired", "active"]);
    // testum's own key survives a revoke of everything else.
    expect((await cli(["keys", "status", "web-1"])).stdout).toMatch(/testum identity #2/);
  });

  it("re-encrypts every secret under a new master key, and every host stays reachable", async () => {
    const newKey = randomBytes(32).toString("base64");
    const wrong = await cli(["secrets", "rotate"], { TESTUM_MASTER_KEY: newKey, TESTUM_MASTER_KEY_PREVIOUS: randomBytes(32).toString("base64") });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/cannot be opened.*nothing was changed/);

    const before = await world.testum.sql`select id, key_id, box from secrets order by id`;
    const res = await cli(["secrets", "rotate"], { TESTUM_MASTER_KEY: newKey, TESTUM_MASTER_KEY_PREVIOUS: TEST_MASTER_KEY });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`Re-encrypted ${before.length} secret(s)`);
    const after = await world.testum.sql`select id, key_id, box from secrets order by id`;
    expect(new Set(after.map((r) => r.keyId)).size).toBe(1);
    expect(after[0]!.keyId).not.toBe(before[0]!.keyId);

    // With only the new key, every host still authenticates.
    for (const host of ["web-1", "db-1", "imported-1"]) {
      const test = await cli(["hosts", "test", host], { TESTUM_MASTER_KEY: newKey });
      expect(test.stdout, host).toContain("authentication: accepted");
    }
    // Run again: nothing left to do.
    const again = await cli(["secrets", "rotate"], { TESTUM_MASTER_KEY: newKey, TESTUM_MASTER_KEY_PREVIOUS: TEST_MASTER_KEY });
    expect(again.stdout).toContain("Re-encrypted 0 secret(s)");
  });
});
