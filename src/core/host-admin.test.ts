import { describe, expect, it } from "vitest";
import { describeProbe } from "./host-admin.js";
import type { Host } from "./hosts.js";

const host = { name: "web-1", username: "root", address: "10.0.0.5", port: 22, hostKeyFingerprint: null } as unknown as Host;

describe("a host test's answer", () => {
  it("says a secret sealed with another master key is exactly that, and nothing about the host it never tried", () => {
    const lines = describeProbe(host, { reachable: false, authenticated: false, errorCode: "secret_unreadable", error: "a stored secret was sealed with master key 6da5, which is not configured" });
    expect(lines).toEqual([
      "web-1 (root@10.0.0.5:22)",
      "not tried: a stored secret was sealed with master key 6da5, which is not configured. testum must run with the master key the secret was stored with.",
    ]);
    expect(lines.join("\n")).not.toMatch(/reachable|refused/);
  });
});
