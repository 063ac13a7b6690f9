import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHostConnector } from "../src/adapters/ssh/connect-host.js";
import { connect, type Sql } from "../src/core/db.js";
import { addHost, getHostsById, type Host } from "../src/core/hosts/hosts.js";
import { createSecretBox } from "../src/core/hosts/secret-box.js";
import { createTestDatabase } from "./helpers/db.js";
import { ensureTestUser, SSH_TEST_USER, startSshHosts, type SshHostSet } from "./helpers/sshd.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let sql: Sql;
let ssh: SshHostSet;
const box = createSecretBox([randomBytes(32)]);

/** The same connection, counting the statements sent through it. */
function counting(target: Sql): { sql: Sql; count: () => number } {
  let n = 0;
  const sql = new Proxy(target, {
    apply(fn, self, args: unknown[]) {
      const first = args[0] as { raw?: unknown } | undefined;
      if (first && Array.isArray(first) && "raw" in first) n += 1;
      return Reflect.apply(fn as never, self, args);
    },
  });
  return { sql, count: () => n };
}

beforeAll(async () => {
  await ensureTestUser();
  db = await createTestDatabase();
  sql = connect(db.url);
  ssh = await startSshHosts(4, { namePrefix: "conn", passwordAuthentication: false });
});

afterAll(async () => {
  await ssh?.stop();
  await sql?.end({ timeout: 5 });
  await db?.drop();
});

describe("connecting to many hosts at once", () => {
  it("reads their credentials in one query and notes them seen in one statement; a credential that does not open fails its host alone", async () => {
    const hosts: Host[] = [];
    for (const [i, h] of ssh.hosts.entries()) {
      hosts.push(
        await addHost(sql, box, {
          name: `c${i}`,
          address: h.host,
          port: h.port,
          username: SSH_TEST_USER,
          credential: { type: "key", privateKey: ssh.clientPrivateKey },
          fingerprint: h.hostKeyFingerprint,
          createdBy: "local:test",
        }),
      );
    }
    // One credential no longer opens (its sealed bytes were changed).
    await sql`update secrets set box = ${randomBytes(64)} where id = ${hosts[3]!.secretId}`;
    const counted = counting(sql);
    const connector = createHostConnector({ sql: counted.sql, box });
    const results = await Promise.allSettled(hosts.map((h) => connector.connect(h)));
    for (const r of results) if (r.status === "fulfilled") r.value.end();

    expect(results.slice(0, 3).map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
    expect(results[3]!.status).toBe("rejected");
    expect(String((results[3] as PromiseRejectedResult).reason.message)).toMatch(/secret/i);
    // Three connections, each at its own moment: at most one last-seen statement each, and one credential read.
    expect(counted.count()).toBeLessThanOrEqual(1 + 3);
    const seen = await getHostsById(
      sql,
      hosts.map((h) => h.id),
    );
    expect(
      seen
        .filter((h) => h.lastSeenAt !== null)
        .map((h) => h.name)
        .sort(),
    ).toEqual(["c0", "c1", "c2"]);
  }, 60_000);
});
