import ssh2 from "ssh2";
import { fingerprintOfKeyBlob } from "./sshd.js";

const { Server, utils } = ssh2;

/** An authentication attempt a fake SSH server saw. */
export interface AuthAttempt {
  readonly method: string;
  readonly username: string;
  readonly password?: string;
}

/**
 * An SSH server that is not the host it claims to be: it has a host key of
 * its own, records every authentication attempt (passwords in clear, as a
 * man in the middle would) and accepts none.
 */
export interface FakeSshServer {
  readonly port: number;
  readonly fingerprint: string;
  /** Connections that got as far as the key exchange. */
  readonly connections: number;
  attempts(): AuthAttempt[];
  close(): Promise<void>;
}

export async function startFakeSshServer(): Promise<FakeSshServer> {
  const keys = utils.generateKeyPairSync("ed25519");
  const parsed = utils.parseKey(keys.public);
  if (parsed instanceof Error) throw parsed;
  const blob = (Array.isArray(parsed) ? parsed[0]! : parsed).getPublicSSH();
  const attempts: AuthAttempt[] = [];
  let connections = 0;
  const server = new Server({ hostKeys: [keys.private] }, (client) => {
    connections += 1;
    client.on("authentication", (ctx) => {
      attempts.push({ method: ctx.method, username: ctx.username, ...(ctx.method === "password" ? { password: ctx.password } : {}) });
      ctx.reject(["password", "publickey"]);
    });
    client.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    fingerprint: fingerprintOfKeyBlob(blob),
    get connections() {
      return connections;
    },
    attempts: () => [...attempts],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
