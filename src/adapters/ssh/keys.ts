import { generateKeyPairSync, randomBytes } from "node:crypto";
import ssh2 from "ssh2";
import { SshError } from "../../core/errors.js";
import { msg } from "../../core/chat/i18n.js";

/** SSH key material: testum's own new key pairs, and checking a private key before it is stored. */

const { utils } = ssh2;

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

/** DER of an ed25519 key: a fixed header, then the raw 32-byte key (SPKI) or seed (PKCS #8). */
const ED25519_SPKI_BYTES = 44;
const ED25519_PKCS8_BYTES = 48;

/**
 * A new ed25519 key pair in OpenSSH formats (`openssh-key-v1`, unencrypted,
 * and the `ssh-ed25519 AAAA… comment` line). Made with node:crypto: the raw
 * 32-byte keys are written as they are, leading zero bytes included.
 *
 * The keys come out of the generation already encoded (DER), never as key
 * objects exported afterwards: on Node 20, exporting a freshly generated key
 * (`export({ format: "jwk" })`) can deadlock the process for good when a
 * garbage collection runs during the export.
 */
export function generateEd25519(comment: string): { privateKey: string; publicKey: string } {
  const der = generateKeyPairSync("ed25519", { publicKeyEncoding: { type: "spki", format: "der" }, privateKeyEncoding: { type: "pkcs8", format: "der" } });
  if (der.publicKey.length !== ED25519_SPKI_BYTES || der.privateKey.length !== ED25519_PKCS8_BYTES) {
    throw new Error(`unexpected ed25519 key encoding (${der.publicKey.length} and ${der.privateKey.length} bytes)`);
  }
  const pub = der.publicKey.subarray(ED25519_SPKI_BYTES - 32);
  const seed = der.privateKey.subarray(ED25519_PKCS8_BYTES - 32);
  const type = "ssh-ed25519";
  const pubBlob = Buffer.concat([sshString(type), sshString(pub)]);
  const check = randomBytes(4);
  let secret = Buffer.concat([check, check, sshString(type), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  // Padded to the cipher block size (8 for "none") with bytes 1, 2, 3, …
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([Buffer.from("openssh-key-v1\0", "latin1"), sshString("none"), sshString("none"), sshString(""), count, sshString(pubBlob), sshString(secret)]);
  const lines = body
    .toString("base64")
    .match(/.{1,70}/g)!
    .join("\n");
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `${type} ${pubBlob.toString("base64")} ${comment}`,
  };
}

/** Checks that a private key parses (and decrypts with the passphrase) before it is stored. */
export function checkPrivateKey(privateKey: string, passphrase?: string): { type: string } {
  const parsed = utils.parseKey(privateKey, passphrase);
  if (parsed instanceof Error) throw new SshError("other", msg("ssh.key_unusable", { problem: parsed.message }));
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey()) throw new SshError("other", msg("ssh.not_private_key"));
  return { type: key.type };
}
