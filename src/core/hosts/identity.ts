import { transaction, type Sql } from "../db.js";
import { TestumError } from "../errors.js";
import { msg } from "../chat/i18n.js";
import type { KeyPair } from "../ports.js";
import { parsePublicKey } from "./public-keys.js";
import type { SecretBox } from "./secret-box.js";
import { readSecret, storeSecret } from "./secrets.js";

/**
 * testum's own SSH key pair, for hosts added from chat (no secret ever has to
 * be typed into a channel: the host trusts testum's public key instead).
 */
export type IdentityState = "active" | "next" | "retired";

export interface IdentityKey {
  readonly id: number;
  readonly publicKey: string;
  readonly fingerprint: string;
  readonly secretId: string;
  readonly state: IdentityState;
  readonly createdAt: Date;
  readonly retiredAt: Date | null;
}

/** The owner tag of an identity key inside testum's authorized_keys block. */
export function identityOwner(key: Pick<IdentityKey, "id">): string {
  return `identity:${key.id}`;
}

export async function findIdentity(sql: Sql, state: IdentityState): Promise<IdentityKey | undefined> {
  const [key] = await sql<IdentityKey[]>`select * from identity_keys where state = ${state} order by id desc limit 1`;
  return key;
}

async function createIdentity(sql: Sql, box: SecretBox, pair: KeyPair, state: "active" | "next"): Promise<IdentityKey | undefined> {
  const fingerprint = parsePublicKey(pair.publicKey).fingerprint;
  return transaction(sql, async (tx) => {
    const secretId = await storeSecret(tx as unknown as Sql, box, { type: "key", privateKey: pair.privateKey });
    const rows = await tx<IdentityKey[]>`
      insert into identity_keys (public_key, fingerprint, secret_id, state)
      values (${pair.publicKey}, ${fingerprint}, ${secretId}, ${state})
      on conflict do nothing
      returning *`;
    return rows[0];
  });
}

/**
 * The active identity, made on first use. Several processes starting at once
 * agree on one key (a unique index allows a single active key).
 */
export async function ensureIdentity(sql: Sql, box: SecretBox, generate: (comment: string) => KeyPair): Promise<IdentityKey> {
  const existing = await findIdentity(sql, "active");
  if (existing) return existing;
  const made = await createIdentity(sql, box, generate(`testum@${new Date().toISOString().slice(0, 10)}`), "active");
  const active = made ?? (await findIdentity(sql, "active"));
  if (!active) throw new TestumError("conflict", "could not create testum's identity key");
  return active;
}

/** The key being rolled out by a rotation, made when none is in progress. */
export async function ensureNextIdentity(sql: Sql, box: SecretBox, generate: (comment: string) => KeyPair): Promise<IdentityKey> {
  const existing = await findIdentity(sql, "next");
  if (existing) return existing;
  const made = await createIdentity(sql, box, generate(`testum@${new Date().toISOString().slice(0, 10)}`), "next");
  return made ?? (await findIdentity(sql, "next"))!;
}

/** Makes the next key the active one and retires the old. */
export async function promoteNextIdentity(sql: Sql): Promise<{ retired: IdentityKey; active: IdentityKey }> {
  return transaction(sql, async (tx) => {
    const [retired] = await tx<IdentityKey[]>`
      update identity_keys set state = 'retired', retired_at = now() where state = 'active' returning *`;
    const [active] = await tx<IdentityKey[]>`update identity_keys set state = 'active' where state = 'next' returning *`;
    if (!retired || !active) throw new TestumError("conflict", "no identity rotation is in progress");
    return { retired, active };
  });
}

export async function identityPrivateKey(sql: Sql, box: SecretBox, key: IdentityKey): Promise<string> {
  const credential = await readSecret(sql, box, key.secretId);
  if (credential.type !== "key") throw new TestumError("secret_unreadable", msg("identity.not_a_key"));
  return credential.privateKey;
}
