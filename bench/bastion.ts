// Fan-out through a bastion: `true` on N local OpenSSH hosts over testum's SSH layer (the
// worker's connection pool and host connector), each host reached directly and then through one
// bastion, cold (new connections) and warm (pooled ones).
//
//   npx tsx bench/bastion.ts [N ...]        (default: 20 50; needs root and Postgres)
//
// It starts N+1 sshd hosts on 127.0.0.1 (host 0 is the bastion), a database of its own, and
// registers every host twice: `d-I` reached directly and `v-I` through the bastion (same address,
// same sshd). The figures are wall-clock seconds from the first acquire to the last exit status,
// and the number of connections open at the bastion's sshd after the cold run (one for the `v-`
// hosts is the aim: every host behind it shares it). Everything it starts is removed at the end.

import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import postgres from "postgres";
import { createHostConnector } from "../src/adapters/ssh/connect-host.js";
import { ConnectionPool } from "../src/adapters/ssh/pool.js";
import { connect, migrate } from "../src/core/db.js";
import { addHost, type Host } from "../src/core/hosts/hosts.js";
import { createSecretBox } from "../src/core/hosts/secret-box.js";
import { databaseUrl } from "../tests/helpers/db.js";
import { ensureTestUser, startSshHosts } from "../tests/helpers/sshd.js";

const say = (line: string) => process.stderr.write(`${line}\n`);
const handlers = { onStdout: () => true, onStderr: () => true };

/** Connections open at an sshd now: the listener forks one child per connection. */
function connectionsOf(listener: number | undefined): number {
  let count = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === listener) count++;
    } catch {
      // gone meanwhile
    }
  }
  return count;
}

/** Runs `true` on every host at once; seconds from the first acquire to the last exit status. */
async function run(pool: ConnectionPool, hosts: readonly Host[]): Promise<number> {
  const started = performance.now();
  const codes = await Promise.all(
    hosts.map(async (host) => {
      const { conn } = await pool.acquire(host);
      const result = await conn.exec("true", handlers);
      pool.release(host, conn);
      return result.exitCode;
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  if (codes.some((c) => c !== 0)) throw new Error(`some hosts did not exit 0: ${codes.join(",")}`);
  return seconds;
}

async function bench(n: number): Promise<string[]> {
  const set = await startSshHosts(n + 1, { namePrefix: "bench" });
  const name = `testum_bench_${randomBytes(4).toString("hex")}`;
  const admin = postgres(databaseUrl("postgres"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const sql = connect(databaseUrl(name), { max: 4 });
  try {
    await migrate(databaseUrl(name));
    const box = createSecretBox([randomBytes(32)]);
    const credential = { type: "key" as const, privateKey: set.clientPrivateKey };
    const [bastion, ...targets] = set.hosts;
    await addHost(sql, box, {
      name: "bastion",
      address: "127.0.0.1",
      port: bastion!.port,
      username: set.user,
      credential,
      fingerprint: bastion!.hostKeyFingerprint,
      createdBy: "bench",
    });
    const direct: Host[] = [];
    const via: Host[] = [];
    for (const [i, t] of targets.entries()) {
      const common = { address: "127.0.0.1", port: t.port, username: set.user, credential, fingerprint: t.hostKeyFingerprint, createdBy: "bench" };
      direct.push(await addHost(sql, box, { ...common, name: `d-${i}` }));
      via.push(await addHost(sql, box, { ...common, name: `v-${i}`, via: "bastion" }));
    }
    const rows: string[] = [];
    for (const [label, hosts] of [
      ["direct", direct],
      ["via bastion", via],
    ] as const) {
      const pool = new ConnectionPool(createHostConnector({ sql, box }));
      const cold = await run(pool, hosts);
      // The pool keeps the connections open: what the bastion holds now is what the run opened there.
      const bastionConnections = connectionsOf(bastion!.pid);
      const warm1 = await run(pool, hosts);
      const warm2 = await run(pool, hosts);
      pool.closeAll();
      rows.push(
        `${String(n).padStart(4)}  ${label.padEnd(12)} ${cold.toFixed(2).padStart(7)} ${warm1.toFixed(2).padStart(7)} ${warm2.toFixed(2).padStart(7)}   ${bastionConnections}`,
      );
    }
    return rows;
  } finally {
    await sql.end({ timeout: 5 });
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
    await set.stop();
  }
}

async function main(): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  // The test hosts' stop waits on unreferenced timers and processes: keep the process up until the end.
  const alive = setInterval(() => {}, 1000);
  try {
    await ensureTestUser();
    console.log("   N  route         cold s  warm s  warm s   connections at the bastion");
    for (const n of sizes.length > 0 ? sizes : [20, 50]) {
      say(`${n} hosts…`);
      console.log((await bench(n)).join("\n"));
    }
  } finally {
    clearInterval(alive);
  }
}

main().catch((err: unknown) => {
  say(String((err as Error).stack ?? err));
  process.exitCode = 1;
});
