import { createPublicKey, verify } from "node:crypto";

/**
 * Checks Discord's request signature (interactions/overview.mdx): an Ed25519
 * signature, hex in `X-Signature-Ed25519`, over `X-Signature-Timestamp` + the
 * raw body, made with the application's key. Discord documents no time
 * window; testum refuses timestamps more than 5 minutes off, as Slack does,
 * so a captured request cannot be replayed later.
 */
export type DiscordVerifier = (signature: string | undefined, timestamp: string | undefined, body: Buffer) => boolean;

export const MAX_CLOCK_SKEW_SECONDS = 300;

/** Ed25519 signatures are 64 bytes. */
const SIGNATURE_HEX = /^[0-9a-fA-F]{128}$/;
const TIMESTAMP = /^\d{1,12}$/;

/**
 * Creates a verifier for the application's public key (64 hex characters, as
 * the Developer Portal shows it). Throws at once on a malformed key.
 */
export function createDiscordVerifier(publicKeyHex: string, now: () => number = Date.now): DiscordVerifier {
  if (!/^[0-9a-fA-F]{64}$/.test(publicKeyHex)) {
    throw new Error("DISCORD_PUBLIC_KEY must be the application's public key: 64 hex characters");
  }
  const key = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKeyHex, "hex").toString("base64url") },
    format: "jwk",
  });
  const blank = Buffer.alloc(64);

  return (signature, timestamp, body) => {
    const wellFormed = signature !== undefined && SIGNATURE_HEX.test(signature);
    const ts = timestamp ?? "";
    // The signature is checked whatever else is wrong, so every refusal costs
    // the same and timing tells a prober nothing about which check failed.
    const signed = verify(null, Buffer.concat([Buffer.from(ts), body]), key, wellFormed ? Buffer.from(signature, "hex") : blank);
    const fresh = TIMESTAMP.test(ts) && Math.abs(now() / 1000 - Number(ts)) <= MAX_CLOCK_SKEW_SECONDS;
    return wellFormed && signed && fresh;
  };
}
