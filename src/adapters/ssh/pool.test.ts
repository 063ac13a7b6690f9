import { describe, expect, it } from "vitest";
import type { Host } from "../../core/hosts/hosts.js";
import type { HostConnector } from "./connect-host.js";
import { ConnectionPool } from "./pool.js";
import type { SshConnection } from "./ssh.js";

function hostNamed(id: number): Host {
  return { id, name: `h${id}`, address: "127.0.0.1", port: 22, username: "ops", authMethod: "identity", secretId: null, hostKeyFingerprint: "SHA256:x" } as unknown as Host;
}

/** A connector whose connections open after `ms`, counting how many handshakes run at once. */
function slowConnector(ms: number) {
  let now = 0;
  let most = 0;
  const connector = {
    async connect() {
      now += 1;
      most = Math.max(most, now);
      await new Promise((r) => setTimeout(r, ms));
      now -= 1;
      return { isOpen: true, shellAsked: true, end() {} } as unknown as SshConnection;
    },
    closeHops() {},
  } as unknown as HostConnector;
  return { connector, most: () => most };
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
});
