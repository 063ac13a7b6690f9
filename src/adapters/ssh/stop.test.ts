import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectSsh } from "./handshake.js";

const { Server, utils } = ssh2;

/**
 * An SSH server whose commands print the pid line testum's wrapper prints and
 * then run until their session is closed, and whose stop signals (`kill …`)
 * never finish: a host that answers, where `kill` hangs (a process stuck on a
 * dead NFS mount, say).
 */
let server: InstanceType<typeof Server>;
let port = 0;
const commands: string[] = [];
const clients: Array<{ end(): void }> = [];

beforeAll(async () => {
  const hostKey = utils.generateKeyPairSync("ed25519");
  server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    clients.push(client);
    client.on("authentication", (ctx) => ctx.accept());
    client.on("session", (accept) => {
      const session = accept();
      session.on("exec", (acceptExec, _reject, info) => {
        commands.push(info.command);
        const stream = acceptExec();
        if (info.command.startsWith("kill ")) return; // hangs: no output, no exit, no close
        stream.write("\x1etestum-pid 4242\n");
        stream.write("running\n");
      });
    });
    client.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const client of clients) client.end();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("stopping a command on a host where the stop signal itself hangs", () => {
  it("goes on from TERM to KILL and ends the command's session, each helper bounded", async () => {
    const conn = await connectSsh({ name: "stuck", address: "127.0.0.1", port, username: "ops", auth: { password: "x" }, expectedFingerprint: null }, { helperCommandMs: 300 });
    try {
      const abort = new AbortController();
      const output: string[] = [];
      const started = Date.now();
      const result = await conn.exec(
        "sleep 600",
        { onStdout: (c) => void output.push(c.toString()), onStderr: () => {} },
        { signal: abort.signal, graceMs: 200, onStarted: () => setTimeout(() => abort.abort(), 50) },
      );
      // TERM (cut off after 300 ms), the grace period, KILL (cut off too), then the session is closed.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(result.exitCode).toBeNull();
      expect(output.join("")).toContain("running");
      const signals = commands.filter((c) => c.startsWith("kill "));
      expect(signals).toEqual(["kill -TERM -- -4242 2>/dev/null; pkill -TERM -s 4242 2>/dev/null; true", "kill -KILL -- -4242 2>/dev/null; pkill -KILL -s 4242 2>/dev/null; true"]);
    } finally {
      conn.end();
    }
  }, 30_000);
});
