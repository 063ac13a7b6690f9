import { describe, expect, it } from "vitest";
import { parseInventory } from "./inventory.js";

describe("parseInventory", () => {
  it("reads an OpenSSH client config", () => {
    const inv = parseInventory(`
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
      expect.objectContaining({ name: "web-1", address: "10.0.0.5", port: 2222, username: "deploy", identityFile: "~/.ssh/deploy_ed25519" }),
      expect.objectContaining({ name: "web-2", address: "10.0.0.5", port: 2222 }),
      expect.objectContaining({ name: "db_main", address: "db.example.com", port: undefined, username: undefined }),
    ]);
    expect(inv.skipped.map((s) => s.name)).toEqual(["*.internal", "bad-port"]);
    expect(inv.skipped[0]!.reason).toMatch(/pattern/);
  });

  it("reads an Ansible INI inventory, groups becoming tags", () => {
    const inv = parseInventory(`
mail.example.com

[web]
web1 ansible_host=10.0.1.1 ansible_user=ubuntu
web2 ansible_host=10.0.1.2 ansible_port=2200

[db]
db1 ansible_host=10.0.2.1 ansible_ssh_private_key_file=/keys/db

[prod:children]
web
db

[prod:vars]
ntp=1.2.3.4

[range]
node[01:10]
`);
    expect(inv.format).toBe("ansible");
    const byName = Object.fromEntries(inv.hosts.map((h) => [h.name, h]));
    expect(byName.web1).toMatchObject({ address: "10.0.1.1", username: "ubuntu", tags: { web: "yes", prod: "yes" } });
    expect(byName.web2).toMatchObject({ port: 2200 });
    expect(byName.db1).toMatchObject({ identityFile: "/keys/db", tags: { db: "yes", prod: "yes" } });
    expect(byName["mail.example.com"]).toMatchObject({ address: "mail.example.com", tags: {} });
    expect(inv.skipped).toEqual([expect.objectContaining({ name: "node[01:10]", reason: expect.stringMatching(/ranges/) })]);
  });
});
