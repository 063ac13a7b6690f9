import { recordAudit } from "../access/audit.js";
import type { Sql } from "../db.js";
import { listHosts } from "./hosts.js";
import { ensureNextIdentity, findIdentity, identityOwner, identityPrivateKey, promoteNextIdentity, type IdentityKey } from "./identity.js";
import { mapLimit } from "../concurrency.js";
import type { RemoteAccess } from "../ports.js";
import type { SecretBox } from "./secret-box.js";
import { editHostKeys, type HostOutcome } from "./team-keys.js";
import { withKeys } from "./authorized-keys.js";

export interface RotationResult {
  readonly next: IdentityKey;
  readonly outcomes: HostOutcome[];
  /** True when every host accepted the new key and the old one was retired. */
  readonly completed: boolean;
  readonly retired?: IdentityKey;
}

/**
 * Rotates testum's identity key: makes a new key (or continues the rotation
 * in progress), optionally deploys it to every host that uses the identity,
 * checks each host accepts it, and only then retires the old key and removes
 * it from testum's block on those hosts.
 */
export async function rotateIdentity(deps: { sql: Sql; box: SecretBox; remote: RemoteAccess }, actor: string, options: { deploy: boolean }): Promise<RotationResult> {
  const { sql, box, remote } = deps;
  const next = await ensureNextIdentity(sql, box, remote.generateKeyPair);
  const nextPrivate = await identityPrivateKey(sql, box, next);
  const hosts = (await listHosts(sql)).filter((h) => h.authMethod === "identity");
  const outcomes = await mapLimit(hosts, 16, async (host): Promise<HostOutcome> => {
    try {
      if (options.deploy) {
        await editHostKeys({ sql, remote }, host, (current) => withKeys(current, [{ owner: identityOwner(next), key: next.publicKey }]));
      }
      const probe = await remote.probe(host, { privateKey: nextPrivate });
      return { host: host.name, ok: probe.authenticated, summary: probe.authenticated ? "accepts the new key" : `does not accept the new key: ${probe.error ?? "refused"}` };
    } catch (err) {
      return { host: host.name, ok: false, summary: `failed: ${(err as Error).message}` };
    }
  });
  const completed = outcomes.every((o) => o.ok);
  let retired: IdentityKey | undefined;
  if (completed) {
    retired = (await findIdentity(sql, "active")) ?? undefined;
    await promoteNextIdentity(sql);
    // The old key leaves testum's block; a copy someone put outside it stays (reported by keys status).
    for (const host of hosts) {
      await editHostKeys({ sql, remote }, host, (current) => current.filter((m) => m.owner !== identityOwner(retired!))).catch((err: Error) => {
        const outcome = outcomes.find((o) => o.host === host.name);
        if (outcome) Object.assign(outcome, { summary: `${outcome.summary}; the old key could not be removed: ${err.message}` });
      });
    }
  }
  await recordAudit(sql, {
    actor,
    action: "identity.rotate",
    target: `identity:${next.id}`,
    outcome: completed ? "completed" : "pending",
    detail: { fingerprint: next.fingerprint, retired: retired?.fingerprint ?? null, hosts: outcomes },
  });
  return { next, outcomes, completed, retired };
}
