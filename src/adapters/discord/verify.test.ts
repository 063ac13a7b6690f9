import { generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createDiscordVerifier } from "./verify.js";

const keys = () => {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return { hex: Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url").toString("hex"), privateKey };
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
