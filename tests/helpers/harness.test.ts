import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { Readable } from "node:stream";
import { Upload } from "@aws-sdk/lib-storage";
import { Client, type ConnectConfig } from "ssh2";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startRedisServer } from "./redis-server.js";
import { startS3 } from "./s3.js";
import { ensureTestUser, fingerprintOfKeyBlob, processesWithMarker, remoteProcesses, SSH_TEST_PASSWORD, SSH_TEST_USER, startSshHosts, type SshHostSet } from "./sshd.js";

function keygenFingerprint(pubPath: string): string {
  const r = spawnSync("ssh-keygen", ["-lf", pubPath], { encoding: "utf8", timeout: 30_000 });
  expect(r.status).toBe(0);
  return r.stdout.split(" ")[1]!;
}

function sshConnect(config: ConnectConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    const conn = new Client();
    conn.once("ready", () => resolve(conn));
    conn.once("error", reject);
    conn.connect(config);
  });
}

function tcpRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED"));
  });
}

describe("sshd test hosts", () => {
  let set: SshHostSet;

  beforeAll(async () => {
    await Promise.all([ensureTestUser(), ensureTestUser()]);
    set = await startSshHosts(3, { namePrefix: "web" });
  });
  afterAll(async () => {
    await set?.stop();
  });

  it("creates the login user with /bin/sh", () => {
    const entry = spawnSync("getent", ["passwd", SSH_TEST_USER], { encoding: "utf8" }).stdout.trim().split(":");
    expect(entry[5]).toBe("/home/testum-ssh");
    expect(entry[6]).toBe("/bin/sh");
  });

  it("starts 3 hosts with distinct host keys whose fingerprints match ssh-keygen -lf", () => {
    expect(set.hosts.map((h) => h.name)).toEqual(["web-01", "web-02", "web-03"]);
    expect(new Set(set.hosts.map((h) => h.port)).size).toBe(3);
    const fingerprints = set.hosts.map((h) => h.hostKeyFingerprint);
    expect(new Set(fingerprints).size).toBe(3);
    for (const h of set.hosts) {
      expect(h.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      expect(h.hostKeyFingerprint).toBe(keygenFingerprint(`${h.hostKeyPath}.pub`));
      expect(h.hostPublicKey).toMatch(/^ssh-ed25519 AAAA\S+$/);
      expect(h.running).toBe(true);
    }
  });

  it("authenticates with the client key and gives each host its own HOME and working directory", async () => {
    for (const h of set.hosts) {
      let seen = "";
      const conn = await sshConnect(
        h.connectConfig({
          hostVerifier: (key: Buffer) => {
            seen = fingerprintOfKeyBlob(key);
            return true;
          },
        }),
      );
      conn.end();
      expect(seen).toBe(h.hostKeyFingerprint);

      const r = await h.exec('echo "$HOME"; cd ~ && pwd; cd /; cd && pwd; echo "SHLVL=$SHLVL"; whoami');
      expect(r.stdout.split("\n")).toEqual([h.home, h.home, h.home, "SHLVL=1", SSH_TEST_USER, ""]);
      expect(r.code).toBe(0);
      // Sessions start in the per-host home, so relative paths stay on "this machine".
      expect((await h.exec("pwd")).stdout.trim()).toBe(h.home);
    }
  });

  it("passes stdout, stderr and the exit status through", async () => {
    const r = await set.hosts[0]!.exec("echo out; echo err >&2; exit 3");
    expect(r).toEqual({ stdout: "out\n", stderr: "err\n", code: 3, signal: null });
  });

  it("keeps authorized_keys per host: a key added through host A opens A but not B", async () => {
    const [a, b] = [set.hosts[0]!, set.hosts[1]!];
    const tmp = await mkdtemp("/tmp/testum-harness-key-");
    try {
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "second", "-f", `${tmp}/k`], { timeout: 30_000 });
      const secondPub = (await readFile(`${tmp}/k.pub`, "utf8")).trim();
      const secondKey = await readFile(`${tmp}/k`, "utf8");
      const beforeB = await readFile(b.authorizedKeysPath, "utf8");

      // A relative path, as ssh-copy-id style scripts use.
      const r = await a.exec(`mkdir -p .ssh && echo '${secondPub}' >> .ssh/authorized_keys && cat ~/.ssh/authorized_keys`);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(secondPub);
      expect(await readFile(a.authorizedKeysPath, "utf8")).toContain(secondPub);
      expect(await readFile(b.authorizedKeysPath, "utf8")).toBe(beforeB);
      expect((await b.exec("cat ~/.ssh/authorized_keys")).stdout).not.toContain(secondPub);

      const onA = await sshConnect(a.connectConfig({ privateKey: secondKey }));
      onA.end();
      await expect(sshConnect(b.connectConfig({ privateKey: secondKey }))).rejects.toThrow(/authentication/i);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it("accepts the test password and rejects a wrong one", async () => {
    const h = set.hosts[2]!;
    const conn = await sshConnect(h.connectConfig({ privateKey: undefined, password: set.password }));
    conn.end();
    expect(set.password).toBe(SSH_TEST_PASSWORD);
    await expect(sshConnect(h.connectConfig({ privateKey: undefined, password: "wrong" }))).rejects.toThrow(/authentication/i);
  });

  it("regenerateHostKey changes the fingerprint on the same port", async () => {
    const h = set.hosts[1]!;
    const before = h.hostKeyFingerprint;
    const port = h.port;
    const after = await h.regenerateHostKey();
    expect(after).not.toBe(before);
    expect(h.hostKeyFingerprint).toBe(after);
    expect(h.port).toBe(port);
    expect(keygenFingerprint(`${h.hostKeyPath}.pub`)).toBe(after);
    // A client pinned to the old key is refused; the new key is what the server presents.
    await expect(sshConnect(h.connectConfig({ hostVerifier: (key: Buffer) => fingerprintOfKeyBlob(key) === before }))).rejects.toThrow(/verification failed/i);
    expect((await h.exec("echo ok")).stdout).toBe("ok\n");
  });

  it("finds remote processes by command line and by environment marker, and stop() kills them", async () => {
    const h = set.hosts[2]!;
    const marker = `m${randomBytes(6).toString("hex")}`;
    // Without a pty the remote sleep outlives the SSH channel, like a real orphaned job.
    const conn = await sshConnect(h.connectConfig());
    await new Promise<void>((resolve, reject) => conn.exec(`sleep 300 # ${marker}`, { env: { TESTUM_MARKER: marker } }, (err) => (err ? reject(err) : resolve())));
    try {
      await vi.waitFor(async () => {
        const byEnv = await processesWithMarker(marker);
        expect(byEnv.map((p) => p.command).sort()).toEqual([`sh -c sleep 300 # ${marker}`, "sleep 300"]);
        expect(byEnv.every((p) => p.host === h.name && p.hostDir === h.dir)).toBe(true);
      });
      const byCommand = await remoteProcesses(`sleep 300 # ${marker}`);
      expect(byCommand).toHaveLength(1);
      expect(await h.processes(marker)).toHaveLength(1);
      expect(await set.hosts[0]!.processes(marker)).toHaveLength(0);

      const port = h.port;
      await h.stop();
      expect(h.running).toBe(false);
      expect(await tcpRefused(port)).toBe(true);
      expect(await processesWithMarker(marker)).toEqual([]);

      await h.start();
      expect(h.running).toBe(true);
      expect(h.port).toBe(port);
      expect((await h.exec("echo back")).stdout).toBe("back\n");
    } finally {
      conn.end();
    }
  });

  it("honours passwordAuthentication: false and authorizeClientKey: false", async () => {
    const other = await startSshHosts(1, { passwordAuthentication: false, authorizeClientKey: false });
    try {
      const h = other.hosts[0]!;
      expect(h.name).toBe("host-01");
      expect(other.clientPrivateKey).not.toBe(set.clientPrivateKey);
      expect(readFileSync(h.authorizedKeysPath, "utf8")).toBe("");
      await expect(sshConnect(h.connectConfig({ privateKey: undefined, password: SSH_TEST_PASSWORD }))).rejects.toThrow(/authentication/i);
      await expect(h.exec("true")).rejects.toThrow(/authentication/i);
    } finally {
      await other.stop();
    }
    expect(spawnSync("test", ["-e", other.dir]).status).not.toBe(0);
    expect(await tcpRefused(other.hosts[0]!.port)).toBe(true);
  });
});

describe("s3rver", () => {
  it("round-trips a 6 MB stream body through lib-storage Upload", async () => {
    const s3 = await startS3();
    try {
      const data = randomBytes(6 * 1024 * 1024);
      async function* chunks() {
        for (let i = 0; i < data.length; i += 64 * 1024) yield data.subarray(i, i + 64 * 1024);
      }
      const upload = new Upload({
        client: s3.client,
        params: { Bucket: s3.bucket, Key: "logs/run-1/output.bin", Body: Readable.from(chunks()) },
        partSize: 5 * 1024 * 1024,
      });
      await upload.done();
      const back = await s3.getObjectBytes("logs/run-1/output.bin");
      expect(back.length).toBe(data.length);
      expect(createHash("sha256").update(back).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));

      await new Upload({ client: s3.client, params: { Bucket: s3.bucket, Key: "logs/run-2/a.txt", Body: "héllo" } }).done();
      expect(await s3.getObjectText("logs/run-2/a.txt")).toBe("héllo");
      expect(await s3.listKeys("logs/")).toEqual(["logs/run-1/output.bin", "logs/run-2/a.txt"]);
      expect(await s3.listKeys("logs/run-2/")).toEqual(["logs/run-2/a.txt"]);
      expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await s3.close();
    }
    expect(spawnSync("test", ["-e", s3.directory]).status).not.toBe(0);
  });
});

describe("throwaway redis-server", () => {
  it("answers PING, dies on kill() and comes back on restart()", async () => {
    const { Redis } = await import("ioredis");
    const redis = await startRedisServer();
    try {
      expect(redis.port).not.toBe(6379);
      const client = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      await client.connect();
      expect(await client.ping()).toBe("PONG");
      await client.set("k", "v");
      client.disconnect();

      const pid = redis.pid!;
      await redis.kill();
      expect(redis.running).toBe(false);
      expect(() => process.kill(pid, 0)).toThrow();
      expect(await tcpRefused(redis.port)).toBe(true);

      await redis.restart();
      const again = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      await again.connect();
      expect(await again.ping()).toBe("PONG");
      expect(await again.get("k")).toBeNull();
      again.disconnect();
    } finally {
      await redis.stop();
    }
    expect(redis.running).toBe(false);
  });
});
