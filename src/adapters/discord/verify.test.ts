import { createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createDiscordVerifier } from "./verify.js";

const keys = () => {
  // Encoded as they are made: exporting a freshly made key object can deadlock Node 20 (see keys.ts in adapters/ssh).
  const der = generateKeyPairSync("ed25519", { publicKeyEncoding: { type: "spki", format: "der" }, privateKeyEncoding: { type: "pkcs8", format: "der" } });
  return { hex: der.publicKey.subarray(-32).toString("hex"), privateKey: createPrivateKey({ key: der.privateKey, format: "der", type: "pkcs8" }) };
};

describe("createDiscordVerifier", () => {
  const { hex, privateKey } = keys();
  const now = 1_700_000_000_000;
  const verify = createDiscordVerifier(hex, () => now);
  const body = Buffer.from('{"type":1}');
  const signed = (ts: number, raw = body, key = privateKey) => sign(null, Buffer.concat([Buffer.from(String(ts)), raw]), key).toString("hex");

  it("accepts Discord's signature over timestamp + body", () => {
    expect(verify(signed(now / 1000), String(now / 1000), body)).toBe(true);
  });

  it("refuses another key, a tampered body, and malformed or missing headers", () => {
    const ts = String(now / 1000);
    expect(verify(signed(now / 1000, body, keys().privateKey), ts, body)).toBe(false);
    expect(verify(signed(now / 1000), ts, Buffer.from('{"type":2}'))).toBe(false);
    expect(verify("zz".repeat(64), ts, body)).toBe(false);
    expect(verify(undefined, ts, body)).toBe(false);
    expect(verify(signed(now / 1000), undefined, body)).toBe(false);
  });

  it("refuses timestamps more than 5 minutes off, either way", () => {
    for (const skew of [-301, 301]) {
      const ts = now / 1000 + skew;
      expect(verify(signed(ts), String(ts), body)).toBe(false);
    }
    expect(verify(signed(now / 1000 - 299), String(now / 1000 - 299), body)).toBe(true);
  });

  it("fails at once on a malformed public key", () => {
    expect(() => createDiscordVerifier("abc")).toThrow(/64 hex/);
  });
});
