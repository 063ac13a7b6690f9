import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import postgres from "postgres";
import { migrate } from "../../src/core/db.js";
import { randomBytes } from "node:crypto";
import { databaseUrl } from "./db.js";
import { ensureTestUser, sweepStaleSshHosts } from "./sshd.js";

/**
 * Runs once before all test files: checks the machine has what the tests
 * need, prepares the SSH test user and a migrated template database.
 */
export default async function setup(): Promise<() => Promise<void>> {
  if (!existsSync("/usr/sbin/sshd")) {
    // The SSH tests need real OpenSSH servers. As root on Debian, install it; otherwise say how.
    if (process.getuid?.() === 0 && existsSync("/usr/bin/apt-get")) {
      console.log("installing openssh-server for the SSH test hosts…");
      execFileSync("apt-get", ["install", "-y", "-qq", "openssh-server"], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    } else {
      throw new Error("the tests need OpenSSH's sshd: apt-get install -y openssh-server (see .ci/run)");
    }
  }
  await ensureTestUser();
  await sweepStaleSshHosts();

  // Each run has its own template, so runs side by side never disturb each other.
  const template = `testum_tpl_${Math.floor(Date.now() / 1000)}_${randomBytes(3).toString("hex")}`;
  process.env.TESTUM_TEST_TEMPLATE = template;
  const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
  try {
    // Databases left by interrupted runs. One made in the last day may belong to a live run
    // (even with no connection open at this moment) and stays; one in use stays too.
    const stale = await admin<{ datname: string }[]>`
      select datname from pg_database where datname like 'testum\\_t\\_%' or datname like 'testum\\_tpl\\_%'`;
    const dayAgo = Date.now() / 1000 - 86_400;
    for (const { datname } of stale) {
      const made = Number(/^testum_(?:t|tpl)_(\d+)_/.exec(datname)?.[1] ?? 0);
      if (made > dayAgo) continue;
      await admin.unsafe(`drop database if exists ${datname}`).catch(() => {});
    }
    await admin.unsafe(`create database ${template}`);
  } finally {
    await admin.end();
  }
  await migrate(databaseUrl(template));
  return async () => {
    const sql = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
    await sql.unsafe(`drop database if exists ${template} with (force)`).catch(() => {});
    await sql.end();
  };
}
