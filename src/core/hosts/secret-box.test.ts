import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSecretBox, masterKeyId } from "./secret-box.js";

describe("SecretBox", () => {
  const key = randomBytes(32);
  const box = createSecretBox([key]);

  it("round-trips and never stores the plaintext", () => {
    const sealed = box.seal("id-1", Buffer.from("hunter2-password"));
    expect(sealed.keyId).toBe(masterKeyId(key));
    expect(sealed.box.toString("latin1")).not.toContain("hunter2");
    expect(box.open("id-1", sealed).toString()).toBe("hunter2-password");
  });

  it("uses a fresh nonce every time", () => {
    const a = box.seal("id", Buffer.from("same"));
    const b = box.seal("id", Buffer.from("same"));
    expect(a.box.equals(b.box)).toBe(false);
  });

  it("refuses a ciphertext moved to another secret id, or tampered with", () => {
    const sealed = box.seal("id-1", Buffer.from("secret"));
    expect(() => box.open("id-2", sealed)).toThrow(/integrity check/);
    const tampered = Buffer.from(sealed.box);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => box.open("id-1", { ...sealed, box: tampered })).toThrow(/integrity check/);
  });

  it("opens with the previous key during a rotation and names a missing key", () => {
    const old = randomBytes(32);
    const sealed = createSecretBox([old]).seal("x", Buffer.from("v"));
    expect(createSecretBox([key, old]).open("x", sealed).toString()).toBe("v");
    expect(() => createSecretBox([key]).open("x", sealed)).toThrow(new RegExp(masterKeyId(old)));
  });
});
