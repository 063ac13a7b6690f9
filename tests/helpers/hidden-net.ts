// A private network for hosts that testum must reach through a bastion.
//
// A network namespace with only its own loopback: sshd hosts started inside it (startSshHosts
// with `netns`) cannot be reached from this process at all. `expose()` makes one port inside
// reachable at a loopback port outside, through a unix socket (a file, which both sides see),
// so the bastion is reachable and the hosts behind it are not. No address outside the loopback
// range is used on either side. Needs root (`ip netns add`).

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { onProcessExit } from "./sshd.js";

const PREFIX = "testum-hn-";

export interface Exposure {
  /** The loopback port outside that reaches the port inside. */
  readonly port: number;
  /** TCP connections accepted so far. */
  readonly accepted: number;
  /** TCP connections open now. */
  readonly open: number;
}

export interface HiddenNetwork {
  /** The namespace's name, for `startSshHosts({ netns })`. */
  readonly ns: string;
  /** Makes `address:port` inside reachable at 127.0.0.1:<exposure.port> outside. */
  expose(address: string, port: number): Promise<Exposure>;
  stop(): Promise<void>;
}

function ip(args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")} exited ${r.status}: ${(r.stderr ?? "").trim()}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes namespaces left by test processes that died before stopping them. */
function sweepStale(): void {
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  for (const line of (r.stdout ?? "").split("\n")) {
    const name = line.split(/\s+/)[0] ?? "";
    const owner = Number(/^testum-hn-(\d+)-/.exec(name)?.[1]);
    if (owner && owner !== process.pid && !alive(owner)) spawnSync("ip", ["netns", "del", name]);
  }
}

/** Runs inside the namespace: a unix socket whose every connection is piped to HOST:PORT there. */
const BRIDGE = `
const net = require("node:net");
const [path, host, port] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(Number(port), host);
  c.on("error", () => u.destroy());
  u.on("error", () => c.destroy());
  c.pipe(u).pipe(c);
}).listen(path, () => process.stdout.write("ready\\n"));
`;

export async function startHiddenNetwork(): Promise<HiddenNetwork> {
  sweepStale();
  const ns = `${PREFIX}${process.pid}-${randomBytes(3).toString("hex")}`;
  ip(["netns", "add", ns]);
  const dir = await mkdtemp("/tmp/testum-hn-");
  const bridges: ChildProcess[] = [];
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  let stopped = false;
  const cleanup = () => {
    for (const b of bridges) if (b.pid && b.exitCode === null) b.kill("SIGKILL");
    spawnSync("ip", ["netns", "del", ns]);
  };
  onProcessExit(cleanup);
  try {
    ip(["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
  } catch (err) {
    cleanup();
    throw err;
  }

  return {
    ns,
    async expose(address, port) {
      const path = join(dir, `${address}-${port}.sock`);
      const bridge = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", BRIDGE, path, address, String(port)], { stdio: "ignore" });
      bridges.push(bridge);
      bridge.unref();
      const deadline = Date.now() + 20_000;
      while (!existsSync(path)) {
        if (bridge.exitCode !== null || Date.now() > deadline) throw new Error(`the bridge to ${address}:${port} in ${ns} did not start`);
        await sleep(20);
      }
      const counts = { accepted: 0, open: 0 };
      const server = createServer((client) => {
        counts.accepted++;
        counts.open++;
        sockets.add(client);
        const inside = netConnect(path);
        client.on("error", () => inside.destroy());
        inside.on("error", () => client.destroy());
        client.on("close", () => {
          counts.open--;
          sockets.delete(client);
          inside.destroy();
        });
        client.pipe(inside).pipe(client);
      });
      servers.push(server);
      const outside = await new Promise<number>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
      });
      return {
        port: outside,
        get accepted() {
          return counts.accepted;
        },
        get open() {
          return counts.open;
        },
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
