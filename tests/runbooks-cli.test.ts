import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../src/core/db.js";
import { createTestDatabase } from "./helpers/db.js";
import { TEST_MASTER_KEY } from "./helpers/testum.js";

/** `testum runbook …` on a real database: add, show, export, import into another installation, and back. */
let first: Awaited<ReturnType<typeof createTestDatabase>>;
let second: Awaited<ReturnType<typeof createTestDatabase>>;
let dir: string;

function testum(db: { url: string }, args: string[], input?: string) {
  const res = spawnSync(process.execPath, ["bin/testum.js", "runbook", ...args], {
    env: { ...process.env, DATABASE_URL: db.url, TESTUM_MASTER_KEY: TEST_MASTER_KEY, TESTUM_DATA_DIR: dir },
    encoding: "utf8",
    input,
    timeout: 30_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

beforeAll(async () => {
  [first, second] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  dir = await mkdtemp(join(tmpdir(), "testum-runbooks-"));
}, 60_000);

afterAll(async () => {
  await Promise.all([first?.drop(), second?.drop()]);
  await rm(dir, { recursive: true, force: true });
});

describe("testum runbook", () => {
  it("adds runbooks, refuses a bad one with the reason, and shows one with its parameters", () => {
    const logs = testum(first, [
      "add",
      "svc-logs",
      "role=web",
      "journalctl -u {service:enum(nginx,php-fpm)} -n {lines:int(1..1000)} --no-pager",
      "--description",
      "Recent log lines",
      "--timeout",
      "2m",
    ]);
    expect(logs.stderr).toBe("");
    expect(logs.stdout).toBe("Added runbook svc-logs.\n");
    expect(testum(first, ["add", "restart", "role=web", "sudo systemctl restart {service:enum(nginx,php-fpm)}", "--approval", "always"]).code).toBe(0);
    expect(testum(first, ["add", "say", "all", "printf '%s\\n' {msg}", "--role", "viewer", "--approval", "reviewed"]).code).toBe(0);
    const bad = testum(first, ["add", "broken", "all", 'echo "{msg}"']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("parameter msg stands inside quotes");
    const again = testum(first, ["add", "say", "all", "echo {msg}"]);
    expect(again.stderr).toContain("runbook say exists already; add --replace to replace it");
    const show = testum(first, ["show", "svc-logs"]);
    expect(show.stdout).toContain("lines: int(1..1000) (a whole number from 1 to 1000)");
    expect(show.stdout).toContain("timeout:     120s");
    const list = testum(first, ["list"]);
    expect(
      list.stdout
        .split("\n")
        .slice(1, 4)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(["restart", "say", "svc-logs"]);
  });

  it("exports YAML that another installation imports, and exports again identically", async () => {
    const exported = testum(first, ["export"]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain("  - name: svc-logs\n    target: role=web\n    command: journalctl -u {service:enum(nginx,php-fpm)} -n {lines:int(1..1000)} --no-pager\n");
    expect(exported.stdout).toContain("timeout: 2m");
    const file = join(dir, "runbooks.yml");
    await writeFile(file, exported.stdout);
    const imported = testum(second, ["import", file]);
    expect(imported.stderr).toBe("");
    expect(imported.stdout).toContain("3 added, 0 replaced, 0 unchanged, 0 removed.");
    expect(testum(second, ["export"]).stdout).toBe(exported.stdout);
    // Importing the same file again changes nothing; from standard input too.
    expect(testum(second, ["import", "-"], exported.stdout).stdout).toContain("0 added, 0 replaced, 3 unchanged, 0 removed.");
    const sql = connect(second.url, { max: 1 });
    try {
      const audit = await sql`select action, outcome, target, detail->>'runbook' as runbook from audit where action like 'runbook.%' order by id`;
      expect(audit.map((a) => `${a.action} ${a.outcome} ${a.runbook}`).sort()).toEqual(["runbook.add added restart", "runbook.add added say", "runbook.add added svc-logs"]);
    } finally {
      await sql.end();
    }
  });

  it("names every problem of a file with its place, and then changes nothing", async () => {
    const file = join(dir, "bad.yml");
    await writeFile(
      file,
      [
        "runbooks:",
        "  - name: ok-one",
        "    target: all",
        "    command: uptime",
        "  - name: Bad Name",
        "    target: all",
        "    command: uptime",
        "  - name: typed",
        "    target: all",
        "    command: tail -n {n:int(5..1)} /var/log/syslog",
        "    role: root",
        "  - name: extra",
        "    target: all",
        "    command: uptime",
        "    shell: bash",
      ].join("\n"),
    );
    const res = testum(second, ["import", file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("runbooks[2].role");
    expect(res.stderr).toContain("runbooks[3]");
    expect(res.stderr).toContain("shell");
    await writeFile(file, "runbooks:\n  - name: Bad Name\n    target: all\n    command: uptime\n  - name: typed\n    target: all\n    command: tail -n {n:int(5..1)} x\n");
    const named = testum(second, ["import", file]);
    expect(named.stderr).toContain('runbooks[0] (Bad Name): "Bad Name" cannot name a runbook');
    expect(named.stderr).toContain('runbooks[1] (typed): parameter n: in "int(5..1)" the lower bound is above the upper one');
    await writeFile(file, "runbooks: [unclosed");
    expect(testum(second, ["import", file]).stderr).toContain("is not YAML");
    expect(testum(second, ["list"]).stdout).not.toContain("ok-one");
  });

  it("replaces changed runbooks and, with --prune, removes those the file does not name; --dry-run changes nothing", async () => {
    const file = join(dir, "one.yml");
    await writeFile(file, "runbooks:\n  - name: say\n    target: all\n    command: echo {msg}\n    role: viewer\n");
    const dry = testum(second, ["import", file, "--prune", "--dry-run"]);
    expect(dry.stdout).toContain("Dry run, nothing changed: 0 added, 1 replaced, 0 unchanged, 2 removed.");
    expect(testum(second, ["list"]).stdout).toContain("svc-logs");
    const real = testum(second, ["import", file, "--prune"]);
    expect(real.stdout).toContain("updated: say");
    expect(real.stdout).toContain("removed: svc-logs");
    expect(real.stdout).toContain("0 added, 1 replaced, 0 unchanged, 2 removed.");
    expect(testum(second, ["show", "say"]).stdout).toContain("command:     echo {msg}");
    expect(testum(second, ["rm", "say"]).stdout).toBe("Removed runbook say.\n");
    expect(testum(second, ["list", "--json"]).stdout).toBe("");
  });
});
