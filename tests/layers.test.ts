import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The project's lint configuration, run on a small tree that breaks each layer rule once.
const BIOME = resolve("node_modules/.bin/biome");
let dir: string;

const FILES: Record<string, string> = {
  // Core may use postgres, zod, node-cron, node: modules and itself.
  "src/core/fine.ts": `import postgres from "postgres";\nimport { z } from "zod";\nimport cron from "node-cron";\nimport { readFileSync } from "node:fs";\nimport { helper } from "./helper.js";\nexport const ok = [postgres, z, cron, readFileSync, helper];\n`,
  "src/core/helper.ts": "export const helper = 1;\n",
  // Core never imports an adapter, the worker or an SDK.
  "src/core/uses-adapter.ts": `import { createJobQueue } from "../adapters/redis/queue.js";\nexport const a = createJobQueue;\n`,
  "src/core/uses-worker.ts": `export async function w() {\n  return (await import("../worker/index.js")).startWorker;\n}\n`,
  "src/core/uses-sdk.ts": `import { Queue } from "bullmq";\nimport type { WebClient } from "@slack/web-api";\nexport type Client = WebClient;\nexport const q = Queue;\n`,
  // src/ never imports from tests/.
  "src/adapters/redis/queue.ts": `import { task } from "../../../tests/helpers/tasks.js";\nexport const createJobQueue = task;\n`,
  "src/worker/index.ts": "export const startWorker = 1;\n",
  "tests/helpers/tasks.ts": "export const task = 1;\n",
  // Adapters never import the worker.
  "src/adapters/ssh/pool.ts": `import { startWorker } from "../../worker/index.js";\nexport const pool = startWorker;\n`,
  // An import cycle, even through a type-only import.
  "src/core/left.ts": `import type { Right } from "./right.js";\nexport interface Left { right?: Right }\n`,
  "src/core/right.ts": `import type { Left } from "./left.js";\nexport interface Right { left?: Left }\n`,
};

interface Finding {
  readonly file: string;
  readonly rule: string;
}

async function lint(): Promise<{ code: number; findings: Finding[]; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(BIOME, ["lint", "--max-diagnostics=200", "--colors=off", "."], { cwd: dir });
    return { code: 0, findings: [], output: stdout + stderr };
  } catch (err) {
    const { code, stdout, stderr } = err as { code: number; stdout: string; stderr: string };
    const output = stdout + stderr;
    const findings = [...output.matchAll(/^(\S+\.ts):\d+:\d+ lint\/(\w+\/\w+)/gm)].map((m) => ({ file: m[1]!, rule: m[2]! }));
    return { code, findings, output };
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "testum-layers-"));
  const config = JSON.parse(await readFile("biome.json", "utf8")) as Record<string, unknown>;
  // The temporary tree is no git checkout; everything else is the project's own configuration.
  delete config.$schema;
  config.vcs = { enabled: false };
  await writeFile(join(dir, "biome.json"), JSON.stringify(config));
  for (const [path, text] of Object.entries(FILES)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the lint's layer rules", () => {
  it("fail on each forbidden import and on an import cycle, and pass what is allowed", async () => {
    const { code, findings, output } = await lint();
    expect(code, output).toBe(1);
    const restricted = (file: string) => ({ file, rule: "style/noRestrictedImports" });
    expect(findings).toEqual(
      expect.arrayContaining([
        restricted("src/core/uses-adapter.ts"),
        restricted("src/core/uses-worker.ts"),
        restricted("src/core/uses-sdk.ts"),
        restricted("src/adapters/redis/queue.ts"),
        restricted("src/adapters/ssh/pool.ts"),
        { file: "src/core/left.ts", rule: "suspicious/noImportCycles" },
        { file: "src/core/right.ts", rule: "suspicious/noImportCycles" },
      ]),
    );
    // Both SDK imports are refused, the type-only one too.
    expect(findings.filter((f) => f.file === "src/core/uses-sdk.ts")).toHaveLength(2);
    expect(findings.map((f) => f.file)).not.toContain("src/core/fine.ts");
    expect(findings.map((f) => f.file)).not.toContain("src/core/helper.ts");
    expect(output).toContain("Core knows no adapter, worker, runtime or command line");
    expect(output).toContain("src/ never imports from tests/");
  });
});

describe("the format check", () => {
  it("fails on a file the formatter would write differently, names it, and passes the ones it would not", async () => {
    const run = async (...files: string[]) => {
      try {
        const { stdout, stderr } = await promisify(execFile)(BIOME, ["format", "--colors=off", ...files], { cwd: dir });
        return { code: 0, output: stdout + stderr };
      } catch (err) {
        const { code, stdout, stderr } = err as { code: number; stdout: string; stderr: string };
        return { code, output: stdout + stderr };
      }
    };
    // Files written as the formatter writes them pass.
    const fine = await run("src/core/helper.ts", "src/core/fine.ts");
    expect(fine.code, fine.output).toBe(0);
    await writeFile(join(dir, "src/core/badly-formatted.ts"), "export const  x = {a:1,\n  b : 'two'}\n");
    try {
      const { code, output } = await run("src/core/helper.ts", "src/core/badly-formatted.ts");
      expect(code, output).toBe(1);
      expect(output).toMatch(/src\/core\/badly-formatted\.ts format/);
      expect(output).not.toContain("src/core/helper.ts format");
    } finally {
      await rm(join(dir, "src/core/badly-formatted.ts"));
    }
  });
});
