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

/**
 * A new ed25519 key pair in OpenSSH formats (`openssh-key-v1`, unencrypted,
 * and the `ssh-ed25519 AAAA… comment` line). Made with node:crypto: the raw
 * 32-byte keys are written as they are, leading zero bytes included.
 */
export function generateEd25519(comment: string): { privateKey: string; publicKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const pub = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  const seed = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
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
