import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "./helpers/db.js";
import { startSshHosts, type SshHostSet } from "./helpers/sshd.js";
import { TEST_MASTER_KEY } from "./helpers/testum.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dir: string;
let ssh: SshHostSet;

function testum(args: string[], env: Record<string, string> = {}) {
  const res = spawnSync(process.execPath, ["bin/testum.js", ...args], {
    env: { ...process.env, DATABASE_URL: db.url, TESTUM_MASTER_KEY: TEST_MASTER_KEY, TESTUM_DATA_DIR: dir, ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

beforeAll(async () => {
  [db, ssh] = await Promise.all([createTestDatabase(), startSshHosts(1)]);
  dir = await mkdtemp(join(tmpdir(), "testum-cli-"));
  await writeFile(join(dir, "id"), ssh.clientPrivateKey, { mode: 0o600 });
});

afterAll(async () => {
  await db?.drop();
  await ssh?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("the testum command", () => {
  it("answers --help on every verb", async () => {
    const verbs = [
      ["--help"],
      ["start", "--help"],
      ["serve", "--help"],
      ["worker", "--help"],
      ["migrate", "--help"],
      ["hosts", "--help"],
      ["hosts", "add", "--help"],
      ["hosts", "list", "--help"],
      ["hosts", "rm", "--help"],
      ["audit", "--help"],
      ["audit", "list", "--help"],
      ["discord", "--help"],
      ["discord", "register", "--help"],
    ];
    const results = await Promise.all(verbs.map((args) => promisify(execFile)(process.execPath, ["bin/testum.js", ...args], { encoding: "utf8" })));
    results.forEach((res, i) => expect(res.stdout, verbs[i]!.join(" ")).toMatch(/Usage: testum|testum: chat-ops/));
  });

  it("prints a command's help for testum help COMMAND, and says what a typo most likely meant", () => {
    const hosts = testum(["help", "hosts"]);
    expect(hosts.code).toBe(0);
    expect(hosts.stdout).toMatch(/^Usage: testum hosts </);
    expect(testum(["help", "hosts", "add"]).stdout).toContain("testum hosts add");
    expect(testum(["hosts", "help", "add"]).stdout).toBe(testum(["help", "hosts", "add"]).stdout);
    const typo = testum(["hots", "list"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe('testum: unknown command "hots". Did you mean "testum hosts"? testum --help lists the commands.\n');
    const sub = testum(["hosts", "shw", "web-1"]);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toBe('testum: unknown command "hosts shw". Did you mean "testum hosts show"? testum hosts --help lists the commands.\n');
    const helpTypo = testum(["help", "hosts", "shw"]);
    expect(helpTypo.code).toBe(2);
    expect(helpTypo.stderr).toContain('Did you mean "testum hosts show"?');
  }, 180_000);

  it("uses only the server's database and master key: never makes new ones, and says which it looked for", async () => {
    const missing = `testum_missing_${process.pid}`;
    const wrong = testum(["hosts", "list"], { DATABASE_URL: db.url.replace(/\/[^/]+$/, `/${missing}`) });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`the database "${missing}" does not exist`);
    expect(wrong.stderr).toContain("server's environment");
    const admin = (await import("postgres")).default(db.url.replace(/\/[^/]+$/, "/postgres"), { max: 1 });
    expect(await admin`select 1 from pg_database where datname = ${missing}`).toHaveLength(0);
    await admin.end();

    // From another directory, without TESTUM_MASTER_KEY: no new ./data, no new key.
    const elsewhere = await mkdtemp(join(tmpdir(), "testum-cwd-"));
    const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: db.url, TESTUM_DATA_DIR: undefined, TESTUM_MASTER_KEY: undefined };
    const res = spawnSync(process.execPath, [join(process.cwd(), "bin/testum.js"), "hosts", "list"], {
      cwd: elsewhere,
      env: env as NodeJS.ProcessEnv,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain(`no key file at ${join(elsewhere, "data", "master.key")}`);
    expect(spawnSync("ls", ["-A", elsewhere], { encoding: "utf8" }).stdout).toBe("");
    await rm(elsewhere, { recursive: true, force: true });
  }, 120_000);

  it("stops with exit code 2 and names the variable when configuration is bad", () => {
    const res = testum(["hosts", "list"], { REDIS_URL: "http://nope", TESTUM_JOB_TIMEOUT: "ten minutes" });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("REDIS_URL");
    expect(res.stderr).toContain("TESTUM_JOB_TIMEOUT");
    expect(res.stderr).toMatch(/expected a duration/);
  });

  it("adds, lists and removes a host; the credential is stored encrypted and never printed", async () => {
    const host = ssh.hosts[0]!;
    const add = testum(["hosts", "add", "prod-db", "--host", "127.0.0.1", "--port", String(host.port), "--user", ssh.user, "--key-file", join(dir, "id"), "--tag", "env=prod"]);
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    expect(add.stdout).toContain("Added prod-db");
    const keyBody = ssh.clientPrivateKey.split("\n")[1]!;
    expect(add.stdout).not.toContain(keyBody);

    const list = testum(["hosts", "list", "--json"]);
    expect(list.code).toBe(0);
    const rows = list.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows).toEqual([expect.objectContaining({ name: "prod-db", address: "127.0.0.1", port: host.port, user: ssh.user, auth: "key", tags: { env: "prod" }, hostKey: null })]);
    expect(list.stdout).not.toContain(keyBody);

    const postgres = (await import("postgres")).default;
    const sql = postgres(db.url, { max: 1 });
    const secrets = await sql`select key_id, box from secrets`;
    expect(secrets).toHaveLength(1);
    expect(Buffer.from(secrets[0]!.box).toString("latin1")).not.toContain(keyBody.slice(0, 20));
    await sql.end();

    const dup = testum(["hosts", "add", "prod-db", "--host", "127.0.0.1", "--user", "x", "--password-env", "PW"], { PW: "secret" });
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain("already exists");

    const rm = testum(["hosts", "rm", "prod-db"]);
    expect(rm.code).toBe(0);
    expect(testum(["hosts", "list", "--json"]).stdout).toBe("");
  });

  it("refuses bad host arguments with a clear message and exit code 2", () => {
    const bad = testum(["hosts", "add", "Bad Name!", "--host", "h", "--user", "u", "--password-env", "PW"], { PW: "x" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("not a valid host name");
    const both = testum(["hosts", "add", "ok", "--host", "h", "--user", "u"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("exactly one of --key-file PATH or --password-env VAR");
    const missingEnv = testum(["hosts", "add", "ok", "--host", "h", "--user", "u", "--password-env", "NOT_SET_ANYWHERE"]);
    expect(missingEnv.code).toBe(2);
    expect(missingEnv.stderr).toContain("NOT_SET_ANYWHERE: not set");
    const badFp = testum(["hosts", "add", "ok", "--host", "h", "--user", "u", "--password-env", "PW", "--fingerprint", "MD5:aa"], { PW: "x" });
    expect(badFp.stderr).toContain("is not a SHA256 host key fingerprint");
  });

  it("names commands the way the command line takes them, and the job in audit lines", () => {
    const unknown = testum(["hosts", "show", "nosuch"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("testum: no host named nosuch. testum hosts list lists the known hosts.\n");
    const table = testum(["audit", "list", "--limit", "5"]);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+AT\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME\s+JOB$/);
    expect(table.stdout).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  });

  it("prints the audit log as JSON lines", () => {
    const res = testum(["audit", "list", "--json", "--limit", "5"]);
    expect(res.code, res.stderr).toBe(0);
    const rows = res.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.action)).toEqual(["host.add", "host.remove"]);
    expect(rows[0].actor).toMatch(/^cli:/);
    expect(JSON.stringify(rows)).not.toContain(ssh.clientPrivateKey.split("\n")[1]!);
  });

  it("shows a rebuilt host's new key, refuses a fingerprint that is not it, and pins it once confirmed", async () => {
    const own = await startSshHosts(1);
    try {
      const host = own.hosts[0]!;
      await writeFile(join(dir, "own-id"), own.clientPrivateKey, { mode: 0o600 });
      const add = testum(["hosts", "add", "rebuilt", "--host", "127.0.0.1", "--port", String(host.port), "--user", own.user, "--key-file", join(dir, "own-id")]);
      expect(add.code, add.stderr).toBe(0);
      expect(testum(["hosts", "test", "rebuilt"]).code).toBe(0);
      const old = host.hostKeyFingerprint;
      const fresh = await host.regenerateHostKey();

      const shown = testum(["hosts", "repin", "rebuilt"]);
      expect(shown.code).toBe(1);
      expect(shown.stdout).toContain(`pinned:    ${old}`);
      expect(shown.stdout).toContain(`presented: ${fresh}`);
      expect(shown.stdout).toContain(`testum hosts repin rebuilt ${fresh}`);
      expect(testum(["hosts", "test", "rebuilt"]).code).toBe(1);

      const wrong = testum(["hosts", "repin", "rebuilt", old]);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain(fresh);
      expect(testum(["hosts", "show", "rebuilt"]).stdout).toContain(old);

      const pinned = testum(["hosts", "repin", "rebuilt", fresh]);
      expect(pinned.code, pinned.stderr).toBe(0);
      expect(pinned.stdout).toContain(`Re-pinned rebuilt:\n  old: ${old}\n  new: ${fresh}`);
      expect(testum(["hosts", "test", "rebuilt"]).code).toBe(0);
      expect(testum(["hosts", "rm", "rebuilt"]).code).toBe(0);
    } finally {
      await own.stop();
    }
  }, 180_000);

  it("routes hosts through a bastion: add --via, list, via, rm refused, import with ProxyJump", async () => {
    const host = ssh.hosts[0]!;
    const common = ["--host", "127.0.0.1", "--port", String(host.port), "--user", ssh.user, "--key-file", join(dir, "id")];
    expect(testum(["hosts", "add", "jump", ...common]).code).toBe(0);
    const inner = testum(["hosts", "add", "inner", ...common, "--via", "jump"]);
    expect(inner.stdout).toContain("Added inner (testum-ssh@127.0.0.1:" + host.port + " via jump");
    const rows = testum(["hosts", "list", "--json"])
      .stdout.trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { name: string; via: string | null });
    expect(rows.filter((r) => ["jump", "inner"].includes(r.name)).map((r) => [r.name, r.via])).toEqual([
      ["inner", "jump"],
      ["jump", null],
    ]);
    const rm = testum(["hosts", "rm", "jump"]);
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toContain("jump is the bastion for inner");
    expect(testum(["hosts", "via", "jump", "inner"]).stderr).toContain("the route comes back to itself (jump → inner → jump)");
    expect(testum(["hosts", "via", "inner"]).stdout).toContain("inner is now reached directly (was: jump)");

    const config = join(dir, "ssh_config");
    await writeFile(
      config,
      `Host imported\n  HostName 127.0.0.1\n  Port ${host.port}\n  User ${ssh.user}\n  IdentityFile ${join(dir, "id")}\n  ProxyJump jump\n\nHost legacy\n  ProxyCommand nc %h %p\n`,
    );
    const imported = testum(["hosts", "import", config]);
    expect(imported.stdout).toContain("Added 1: imported");
    expect(imported.stdout).toContain("Through a bastion: imported via jump");
    expect(imported.stdout).toMatch(/legacy: Host legacy: ProxyCommand "nc %h %p" is not "ssh -W %h:%p HOST"/);
    expect(imported.code).toBe(1);
    const test = testum(["hosts", "test", "imported"]);
    expect(test.stdout).toContain("authentication: accepted");
    expect(test.code).toBe(0);
    // Eleven runs of the command line, each a new Node process.
  }, 180_000);
});
