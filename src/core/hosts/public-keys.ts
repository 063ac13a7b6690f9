import { createHash } from "node:crypto";
import { TestumError } from "../errors.js";
import { msg, translate } from "../chat/i18n.js";

/**
 * OpenSSH public key lines: validation, fingerprints, and refusing private
 * keys pasted by mistake.
 */
export interface PublicKey {
  readonly type: string;
  /** The base64 key blob. */
  readonly blob: string;
  readonly comment: string;
  /** `SHA256:…`, as ssh-keygen -l prints it. */
  readonly fingerprint: string;
  /** Key size in bits where it matters (RSA), else the curve's size. */
  readonly bits: number;
}

const TYPES: Record<string, number> = {
  "ssh-ed25519": 256,
  "sk-ssh-ed25519@openssh.com": 256,
  "ecdsa-sha2-nistp256": 256,
  "ecdsa-sha2-nistp384": 384,
  "ecdsa-sha2-nistp521": 521,
  "sk-ecdsa-sha2-nistp256@openssh.com": 256,
  "ssh-rsa": 0,
};

/** Markers of private key material in any common format. */
const PRIVATE_MARKERS = [
  /-----BEGIN (?:OPENSSH |RSA |DSA |EC |ENCRYPTED )?PRIVATE KEY-----/,
  /PuTTY-User-Key-File-\d/,
  /b3BlbnNzaC1rZXktdjE/, // base64 of "openssh-key-v1", the OpenSSH private key format
];

/** True when the text holds private key material. */
export function looksLikePrivateKey(text: string): boolean {
  return PRIVATE_MARKERS.some((m) => m.test(text));
}

/** The refusal for a pasted private key. It never repeats what was pasted. */
export const PRIVATE_KEY_REFUSAL = translate("en", "keys.private_key_refusal");

/** SHA256 fingerprint of a raw public key blob, exactly as `ssh-keygen -l` prints it. */
export function fingerprintOfBlob(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

function readString(buf: Buffer, offset: number): { value: Buffer; next: number } {
  if (offset + 4 > buf.length) throw new Error("truncated");
  const length = buf.readUInt32BE(offset);
  if (offset + 4 + length > buf.length) throw new Error("truncated");
  return { value: buf.subarray(offset + 4, offset + 4 + length), next: offset + 4 + length };
}

/** Parses and validates one public key line: type, encoding, and the type inside the blob. */
export function parsePublicKey(line: string): PublicKey {
  if (looksLikePrivateKey(line)) throw new TestumError("invalid_input", msg("keys.private_key_refusal"));
  const parts = line.trim().split(/\s+/);
  const [type, encoded, ...commentParts] = parts;
  if (!type || !encoded) {
    throw new TestumError("invalid_input", msg("keys.not_a_line"));
  }
  if (!(type in TYPES)) {
    throw new TestumError("invalid_input", msg("keys.unsupported_type", { type: type.slice(0, 40) }));
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new TestumError("invalid_input", msg("keys.not_base64"));
  const blob = Buffer.from(encoded, "base64");
  let first: { value: Buffer; next: number };
  try {
    first = readString(blob, 0);
  } catch {
    throw new TestumError("invalid_input", msg("keys.damaged"));
  }
  const inner = first.value.toString("latin1");
  if (inner !== type) throw new TestumError("invalid_input", msg("keys.type_mismatch", { inner: inner.slice(0, 40), type }));
  let bits = TYPES[type]!;
  try {
    if (type === "ssh-rsa") {
      const exponent = readString(blob, first.next);
      const modulus = readString(blob, exponent.next).value;
      const significant = modulus[0] === 0 ? modulus.subarray(1) : modulus;
      bits = significant.length * 8 - Math.clz32(significant[0] ?? 0) + 24;
    } else if (type.includes("ed25519")) {
      const key = readString(blob, first.next).value;
      if (key.length !== 32) throw new Error("bad ed25519 key length");
    } else {
      readString(blob, readString(blob, first.next).next);
    }
  } catch {
    throw new TestumError("invalid_input", msg("keys.damaged"));
  }
  if (type === "ssh-rsa" && bits < 2048) throw new TestumError("invalid_input", msg("keys.rsa_too_short", { bits }));
  return { type, blob: encoded, comment: commentParts.join(" "), fingerprint: fingerprintOfBlob(blob), bits };
}
