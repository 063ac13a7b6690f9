import { describe, expect, it } from "vitest";
import type { Host } from "../../core/hosts/hosts.js";
import type { HostConnector } from "./connect-host.js";
import { ConnectionPool, SHARED_SESSIONS } from "./pool.js";
import type { SshConnection } from "./ssh.js";

function hostNamed(id: number): Host {
  return { id, name: `h${id}`, address: "127.0.0.1", port: 22, username: "ops", authMethod: "identity", secretId: null, hostKeyFingerprint: "SHA256:x" } as unknown as Host;
}

/** A connector whose connections open after `ms`, counting how many handshakes run at once. */
function slowConnector(ms: number) {
  let now = 0;
  let most = 0;
  const made: Array<{ isOpen: boolean; ended: number }> = [];
  const connector = {
    async connect() {
      now += 1;
      most = Math.max(most, now);
      await new Promise((r) => setTimeout(r, ms));
      now -= 1;
      const conn = {
        isOpen: true,
        shellAsked: true,
        ended: 0,
        end() {
          conn.ended += 1;
          conn.isOpen = false;
        },
      };
      made.push(conn);
      return conn as unknown as SshConnection;
    },
    closeHops() {},
  } as unknown as HostConnector;
  return { connector, most: () => most, made };
}

/** A pool with one connection to a host: its owner, and a second task sharing it. */
async function ownerAndSharer(idleMs: number) {
  const { connector, made } = slowConnector(1);
  const pool = new ConnectionPool(connector, idleMs, 8);
  const host = hostNamed(1);
  const [owner, sharer] = await Promise.all([pool.acquire(host), pool.acquire(host)]);
  expect(owner).toMatchObject({ shared: false });
  expect(sharer).toMatchObject({ shared: true });
  expect(made).toHaveLength(1);
  return { pool, host, made, owner: owner!, sharer: sharer! };
}

describe("ConnectionPool", () => {
  it("has at most its limit of handshakes in progress, and every host gets its connection", async () => {
    const { connector, most } = slowConnector(20);
    const pool = new ConnectionPool(connector, 60_000, 8);
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => pool.acquire(hostNamed(i + 1))));
    expect(got.filter((g) => !g.warm)).toHaveLength(50);
    expect(most()).toBe(8);
    pool.closeAll();
  });

  it("does not connect a host whose task was stopped while it waited for its turn", async () => {
    const { connector } = slowConnector(50);
    const pool = new ConnectionPool(connector, 60_000, 1);
    const stop = new AbortController();
    const first = pool.acquire(hostNamed(1));
    const second = pool.acquire(hostNamed(2), undefined, { signal: stop.signal });
    stop.abort();
    await expect(first).resolves.toMatchObject({ warm: false });
    await expect(second).rejects.toThrow(/stopped before it started/);
    pool.closeAll();
  });

  it("lets tasks on a host share a connection in use before it opens another, up to its limit", async () => {
    const { connector, made } = slowConnector(20);
    const pool = new ConnectionPool(connector, 60_000, 8);
    const host = hostNamed(1);
    const perConnection = SHARED_SESSIONS + 1;
    const got = await Promise.all(Array.from({ length: perConnection + 2 }, () => pool.acquire(host)));
    expect(made).toHaveLength(2);
    expect(got.filter((g) => g.shared)).toHaveLength(SHARED_SESSIONS + 1);
    expect(got.filter((g) => g.conn === (made[0] as unknown as SshConnection))).toHaveLength(perConnection);
    // Back in the pool: the next task gets the first connection returned, warm, as its owner.
    for (const g of got) pool.release(host, g.conn, g.shared);
    const next = await pool.acquire(host);
    expect(next).toMatchObject({ warm: true, shared: false });
    expect(made).toHaveLength(2);
    pool.closeAll();
  });

  it("opens a connection of its own for a task whose shared connection was stopped before it connected", async () => {
    const { connector, made } = slowConnector(30);
    const pool = new ConnectionPool(connector, 60_000, 1);
    const stop = new AbortController();
    const blocker = pool.acquire(hostNamed(2));
    const owner = pool.acquire(hostNamed(1), undefined, { signal: stop.signal });
    const sharer = pool.acquire(hostNamed(1));
    stop.abort();
    await expect(owner).rejects.toThrow(/stopped before it started/);
    await expect(sharer).resolves.toMatchObject({ warm: false, shared: false });
    await blocker;
    expect(made).toHaveLength(2);
    pool.closeAll();
  });

  it("keeps an idle connection open past its idle time while a shared command still runs on it", async () => {
    const { pool, host, made, owner, sharer } = await ownerAndSharer(40);
    pool.release(host, owner.conn, false);
    await new Promise((r) => setTimeout(r, 120));
    expect(made[0]!.ended).toBe(0);
    pool.release(host, sharer.conn, true);
    await expect.poll(() => made[0]!.ended, { timeout: 2000 }).toBe(1);
    pool.closeAll();
  });

  it("closes a dead connection only once no task shares it", async () => {
    const { pool, host, made, owner, sharer } = await ownerAndSharer(60_000);
    pool.drop(host, owner.conn);
    expect(made[0]!.ended).toBe(0);
    pool.drop(host, sharer.conn);
    expect(made[0]!.ended).toBe(1);
    pool.closeAll();
  });
});
