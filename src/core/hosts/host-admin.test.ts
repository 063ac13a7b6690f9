import { describe, expect, it } from "vitest";
import { describeProbe } from "./host-admin.js";
import type { Host } from "./hosts.js";
import { translator } from "../chat/i18n.js";

const host = { name: "web-1", username: "root", address: "10.0.0.5", port: 22, hostKeyFingerprint: null } as unknown as Host;

describe("a host test's answer", () => {
  it("says a secret sealed with another master key is exactly that, and nothing about the host it never tried", () => {
    const lines = describeProbe(host, {
      reachable: false,
      authenticated: false,
      errorCode: "secret_unreadable",
      error: "a stored secret was sealed with master key 6da5, which is not configured",
    });
    expect(lines).toEqual([
      "web-1 (root@10.0.0.5:22)",
      "not tried: a stored secret was sealed with master key 6da5, which is not configured. testum must run with the master key the secret was stored with.",
    ]);
    expect(lines.join("\n")).not.toMatch(/reachable|refused/);
  });

  it("says when this test pinned the host key, and not when it was pinned before", () => {
    const key = `SHA256:${"k".repeat(43)}`;
    const probe = { reachable: true, authenticated: true, fingerprint: key, latencyMs: 12 };
    expect(describeProbe(host, probe)).toContain(`host key:       ${key} (pinned now)`);
    expect(describeProbe(host, probe, translator("ru"))).toContain(`ключ хоста:     ${key} (закреплён сейчас)`);
    const pinned = { ...host, hostKeyFingerprint: key } as Host;
    expect(describeProbe(pinned, probe)).toContain(`host key:       ${key}`);
    expect(describeProbe(pinned, probe).join("\n")).not.toContain("pinned now");
    const other = `SHA256:${"o".repeat(43)}`;
    expect(describeProbe(pinned, { ...probe, authenticated: false, fingerprint: other, errorCode: "host_key_mismatch", error: "changed" })).toContain(
      `host key:       ${other} (pinned: ${key})`,
    );
  });
});
