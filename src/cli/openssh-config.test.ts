import { describe, expect, it } from "vitest";
import { parseOpenSshConfig } from "./openssh-config.js";

describe("parseOpenSshConfig", () => {
  it("reads an OpenSSH client config with the options ssh would use for each host", () => {
    const inv = parseOpenSshConfig(`
# comment
Host web-1 web-2
  HostName 10.0.0.5
  User deploy
  Port 2222
  IdentityFile ~/.ssh/deploy_ed25519

Host *.internal
  User admin

Host DB_Main
  HostName db.example.com

Host bad-port
  Port seventy
`);
    expect(inv.format).toBe("openssh");
    expect(inv.hosts).toEqual([
      expect.objectContaining({ name: "web-1", address: "10.0.0.5", port: 2222, username: "deploy", identityFile: "~/.ssh/deploy_ed25519", jump: undefined }),
      expect.objectContaining({ name: "web-2", address: "10.0.0.5", port: 2222 }),
      expect.objectContaining({ name: "db_main", address: "db.example.com", port: undefined, username: undefined }),
    ]);
    expect(inv.skipped.map((s) => s.name)).toEqual(["*.internal", "bad-port"]);
    expect(inv.skipped[0]!.reason).toMatch(/pattern/);
  });

  it("takes ProxyJump and ProxyCommand ssh -W as the bastion, resolves Host * and Match blocks, and says what it cannot import", () => {
    const inv = parseOpenSshConfig(`
Host bastion
  HostName 203.0.113.5
  User jump
  ProxyJump none

Host db-1 db-2
  HostName %h.db.internal
  ProxyJump bastion

Host cache-1
  HostName 10.0.3.1
  ProxyCommand ssh -q -W %h:%p bastion

Host legacy
  ProxyCommand nc -X connect -x proxy:3128 %h %p

Host deep
  ProxyJump ops@b1:2200,b2

Match host db-2
  Port 2222

Match exec "test -f /tmp/never"
  User nobody

Host *
  User deploy
  IdentityFile ~/.ssh/id_ed25519

Include ~/.ssh/config.d/*
`);
    const byName = Object.fromEntries(inv.hosts.map((h) => [h.name, h]));
    expect(byName.bastion).toMatchObject({ address: "203.0.113.5", username: "jump", jump: "none", identityFile: "~/.ssh/id_ed25519" });
    expect(byName["db-1"]).toMatchObject({ address: "db-1.db.internal", username: "deploy", jump: [{ host: "bastion" }] });
    expect(byName["cache-1"]).toMatchObject({ address: "10.0.3.1", jump: [{ host: "bastion" }] });
    expect(byName.deep).toMatchObject({ jump: [{ host: "b1", user: "ops", port: 2200 }, { host: "b2" }] });
    expect(byName.legacy).toBeUndefined();
    const reasons = Object.fromEntries(inv.skipped.map((s) => [s.name, s.reason]));
    expect(reasons.legacy).toMatch(/ProxyCommand "nc -X connect -x proxy:3128 %h %p" is not "ssh -W %h:%p HOST"/);
    expect(reasons['Match exec "test -f /tmp/never"'] ?? reasons["Match exec test -f /tmp/never"]).toMatch(/not evaluated/);
    expect(Object.keys(reasons).some((k) => k.startsWith("Include"))).toBe(true);
    expect(reasons["*"]).toMatch(/pattern/);
    // Match exec is never run: its User does not apply.
    expect(inv.hosts.every((h) => h.username !== "nobody")).toBe(true);
  });
});
