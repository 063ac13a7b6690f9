// The sshd hosts a bench measures against (bench:fanout, bench:stream): N local OpenSSH hosts
// that take the set's client key only, plus one more used only to warm testum up, started
// together and stopped by the bench's cleanup (also on error or Ctrl-C).

import { type SshHost, startSshHosts } from "../tests/helpers/sshd.js";
import type { Cleanup } from "./support.js";

export interface Fleet {
  /** The N hosts the runs measure. */
  readonly hosts: SshHost[];
  /**
   * One host more, used only to warm testum up: the first measured run then measures new SSH
   * connections, not Node compiling testum's code on its first job.
   */
  readonly warmup: SshHost;
  /** OpenSSH private key (PEM-like text) every host takes, for testum and bare ssh2. */
  readonly clientPrivateKey: string;
  /** The same key as a file, for the ssh clients of the other tools. */
  readonly clientKeyPath: string;
}

/**
 * Starts n + 1 sshd hosts named `${namePrefix}-NN` (key login only), the last of them the
 * warm-up host; the cleanup stops them all. Needs root and the test user (ensureTestUser).
 */
export async function startFleet(n: number, cleanup: Cleanup, namePrefix: string): Promise<Fleet> {
  // Hundreds of hosts make their keys and start at once: on 2 cores that takes minutes, not seconds.
  const set = await startSshHosts(n + 1, { namePrefix, passwordAuthentication: false, startTimeoutMs: Math.max(30_000, n * 600) });
  cleanup.add("sshd hosts", () => set.stop());
  return { hosts: set.hosts.slice(0, n), warmup: set.hosts[n]!, clientPrivateKey: set.clientPrivateKey, clientKeyPath: set.clientKeyPath };
}
