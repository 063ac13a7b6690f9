import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { looksLikePrivateKey, parsePublicKey, PRIVATE_KEY_REFUSAL } from "./public-keys.js";

function keygen(type: string, bits?: number) {
  const dir = mkdtempSync(join(tmpdir(), "pk-"));
  const file = join(dir, "k");
  execFileSync("ssh-keygen", ["-q", "-t", type, ...(bits ? ["-b", String(bits)] : []), "-N", "", "-C", "alice@laptop", "-f", file], { timeout: 30_000 });
  const fingerprint = execFileSync("ssh-keygen", ["-lf", `${file}.pub`], { encoding: "utf8", timeout: 30_000 }).split(" ")[1]!;
  return { pub: readFileSync(`${file}.pub`, "utf8").trim(), priv: readFileSync(file, "utf8"), fingerprint };
}

describe("parsePublicKey", () => {
  it("accepts ed25519, ecdsa and RSA keys with the fingerprint ssh-keygen prints", () => {
    for (const [type, bits] of [["ed25519"], ["ecdsa", 256], ["rsa", 3072]] as const) {
      const key = keygen(type, bits);
      const parsed = parsePublicKey(key.pub);
      expect(parsed.fingerprint).toBe(key.fingerprint);
      expect(parsed.comment).toBe("alice@laptop");
    }
  });

  it("refuses weak, damaged, mislabelled and unknown keys", () => {
    expect(() => parsePublicKey(keygen("rsa", 1024).pub)).toThrow(/at least 2048 bits/);
    const ed = keygen("ed25519").pub.split(" ");
    expect(() => parsePublicKey(`ssh-ed25519 ${ed[1]!.slice(0, 30)}`)).toThrow(/damaged/);
    expect(() => parsePublicKey(`ssh-rsa ${ed[1]}`)).toThrow(/is a ssh-ed25519 key, but the line says ssh-rsa/);
    expect(() => parsePublicKey(`ssh-dss ${ed[1]}`)).toThrow(/unsupported key type/);
    expect(() => parsePublicKey("hello")).toThrow(/expected a public key line/);
  });

  it("refuses a private key without repeating it", () => {
    const { priv } = keygen("ed25519");
    expect(looksLikePrivateKey(priv)).toBe(true);
    expect(looksLikePrivateKey(priv.split("\n").slice(1, 3).join(""))).toBe(true);
    try {
      parsePublicKey(priv);
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toBe(PRIVATE_KEY_REFUSAL);
      expect((err as Error).message).not.toContain(priv.split("\n")[1]!.slice(0, 16));
    }
  });
});
