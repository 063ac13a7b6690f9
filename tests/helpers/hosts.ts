import { addHost } from "../../src/core/hosts/hosts.js";
import { createSecretBox, type SecretBox } from "../../src/core/hosts/secret-box.js";
import type { Sql } from "../../src/core/db.js";
import type { SshHost, SshHostSet } from "./sshd.js";
import { TEST_MASTER_KEY } from "./testum.js";

/** The secret box of every test testum (TEST_MASTER_KEY). */
export function testBox(): SecretBox {
  return createSecretBox([Buffer.from(TEST_MASTER_KEY, "base64")]);
}

export interface TestHostOptions {
  /** Another port than the host's (e.g. one nothing listens on). */
  readonly port?: number;
  /** Another key than the set's client key. */
  readonly privateKey?: string;
  /** The host key pinned from the start, instead of on first contact. */
  readonly fingerprint?: string;
}

/** Registers one of a test sshd set's hosts in testum, as `name`, logging in with the set's client key. */
export async function addTestHost(sql: Sql, ssh: SshHostSet, name: string, host: SshHost = ssh.hosts[0]!, options: TestHostOptions = {}): Promise<void> {
  await addHost(sql, testBox(), {
    name,
    address: host.host,
    port: options.port ?? host.port,
    username: ssh.user,
    credential: { type: "key", privateKey: options.privateKey ?? ssh.clientPrivateKey },
    fingerprint: options.fingerprint,
    createdBy: "test",
  });
}
