import { execFile, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { parsePublicKey } from "../../core/hosts/public-keys.js";
import { generateEd25519 } from "./keys.js";

describe("generateEd25519", () => {
  it("writes keys OpenSSH and ssh2 read, also when the public key starts with a zero byte", () => {
    const dir = mkdtempSync(join(tmpdir(), "ed25519-"));
    let zeroLed = false;
    for (let i = 0; i < 5000 && !zeroLed; i++) {
      const pair = generateEd25519("testum@test");
      const blob = Buffer.from(pair.publicKey.split(" ")[1]!, "base64");
      zeroLed = blob[19] === 0; // the first byte of the 32-byte key
      if (i > 20 && !zeroLed) continue;
      expect(parsePublicKey(pair.publicKey).bits).toBe(256);
      expect(ssh2.utils.parseKey(pair.privateKey)).not.toBeInstanceOf(Error);
      writeFileSync(join(dir, "key"), pair.privateKey, { mode: 0o600 });
      expect(execFileSync("ssh-keygen", ["-y", "-f", join(dir, "key")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 }).trim()).toBe(pair.publicKey);
    }
    expect(zeroLed).toBe(true);
  });

  it("keeps making keys while garbage is collected", async () => {
    // With a tiny young generation, collections run all the time: exporting freshly made keys
    // (JWK) deadlocked Node 20 within a few thousand keys, and the process never ended.
    const keys = fileURLToPath(new URL("./keys.ts", import.meta.url));
    const script = `const { generateEd25519 } = await import(process.argv[1]); for (let i = 0; i < 20000; i++) generateEd25519("gc"); console.log("made 20000");`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--max-semi-space-size=1", "--import", "tsx", "--input-type=module", "-e", script, keys], {
      timeout: 45_000,
      killSignal: "SIGKILL",
    });
    expect(stdout.trim()).toBe("made 20000");
  }, 60_000);
});
