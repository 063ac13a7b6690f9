import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { TestumError } from "../errors.js";
import { msg } from "../chat/i18n.js";

/**
 * Authenticated encryption of secrets at rest: AES-256-GCM under the master
 * key, a fresh 96-bit nonce per secret, and the secret's own id as associated
 * data so a ciphertext copied onto another row does not decrypt. Every sealed
 * value names the key that sealed it, so keys can be rotated.
 */
export interface Sealed {
  readonly keyId: string;
  /** nonce (12 bytes) ‖ tag (16 bytes) ‖ ciphertext */
  readonly box: Buffer;
}

export interface SecretBox {
  readonly keyId: string;
  seal(secretId: string, plaintext: Buffer): Sealed;
  open(secretId: string, sealed: Sealed): Buffer;
}

/** A short public identifier of a master key (never the key itself). */
export function masterKeyId(key: Buffer): string {
  return createHash("sha256").update("testum master key id\0").update(key).digest("hex").slice(0, 16);
}

/**
 * `keys[0]` seals; any of `keys` opens (the previous master key during a
 * rotation).
 */
export function createSecretBox(keys: readonly Buffer[]): SecretBox {
  if (keys.length === 0 || keys.some((k) => k.length !== 32)) throw new Error("master keys must be 32 bytes");
  const byId = new Map(keys.map((k) => [masterKeyId(k), k]));
  const current = keys[0]!;
  const currentId = masterKeyId(current);
  return {
    keyId: currentId,
    seal(secretId, plaintext) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", current, nonce);
      cipher.setAAD(Buffer.from(secretId, "utf8"));
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return { keyId: currentId, box: Buffer.concat([nonce, cipher.getAuthTag(), ciphertext]) };
    },
    open(secretId, sealed) {
      const key = byId.get(sealed.keyId);
      if (!key) {
        throw new TestumError("secret_unreadable", msg("secrets.unknown_master_key", { keyId: sealed.keyId }));
      }
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, sealed.box.subarray(0, 12));
        decipher.setAAD(Buffer.from(secretId, "utf8"));
        decipher.setAuthTag(sealed.box.subarray(12, 28));
        return Buffer.concat([decipher.update(sealed.box.subarray(28)), decipher.final()]);
      } catch (cause) {
        throw new TestumError("secret_unreadable", msg("secrets.integrity", { id: secretId }), { cause });
      }
    },
  };
}
