import { existsSync } from "node:fs";
import postgres from "postgres";
import { migrate } from "../../src/core/db.js";
import { databaseUrl, TEMPLATE_DB } from "./db.js";
import { ensureTestUser, sweepStaleSshHosts } from "./sshd.js";

/**
 * Runs once before all test files: checks the machine has what the tests
 * need, prepares the SSH test user and a migrated template database.
 */
export default async function setup(): Promise<() => Promise<void>> {
  if (!existsSync("/usr/sbin/sshd")) {
    throw new Error("the tests need OpenSSH's sshd: apt-get install -y openssh-server (see .ci/run)");
  }
  await ensureTestUser();
  await sweepStaleSshHosts();

  const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${TEMPLATE_DB} with (force)`);
    await admin.unsafe(`create database ${TEMPLATE_DB}`);
    // Databases left by interrupted runs.
    const stale = await admin<{ datname: string }[]>`select datname from pg_database where datname like 'testum\\_t\\_%'`;
    for (const { datname } of stale) await admin.unsafe(`drop database if exists ${datname} with (force)`);
  } finally {
    await admin.end();
  }
  await migrate(databaseUrl(TEMPLATE_DB));
  return async () => {};
}
