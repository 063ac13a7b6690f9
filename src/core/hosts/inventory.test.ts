import { describe, expect, it } from "vitest";
import { jumpFromSshArgs, parseAnsibleInventory, parseProxyCommand, parseProxyJump } from "./inventory.js";

describe("parseAnsibleInventory", () => {
  it("reads an Ansible INI inventory, groups becoming tags", () => {
    const inv = parseAnsibleInventory(`
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
    expect(byName["mail.example.com"]).toMatchObject({ address: "mail.example.com", tags: {}, jump: undefined });
    expect(inv.skipped).toEqual([expect.objectContaining({ name: "node[01:10]", reason: expect.stringMatching(/ranges/) })]);
  });

  it("applies [group:vars] and [all:vars], parents before children and the host's own line last, and reads the bastion from ssh arguments", () => {
    const inv = parseAnsibleInventory(`
[bastions]
jump ansible_host=203.0.113.5 ansible_user=ops

[db]
db1 ansible_host=10.0.2.1
db2 ansible_host=10.0.2.2 ansible_ssh_common_args='-o ProxyJump=ops@other:2222'
db3 ansible_host=10.0.2.3 ansible_ssh_common_args="-o StrictHostKeyChecking=no -o ProxyCommand=\\"ssh -W %h:%p -q jump\\""
db4 ansible_host=10.0.2.4 ansible_ssh_common_args='-o ProxyCommand="nc -x proxy %h %p"'
db5 ansible_host=10.0.2.5 ansible_ssh_extra_args='-J none'

[private:children]
db

[private:vars]
ansible_ssh_common_args='-o ProxyJump=jump'
ansible_user=deploy

[db:vars]
ansible_user=postgres

[all:vars]
ansible_user=root
ansible_port=22
`);
    const byName = Object.fromEntries(inv.hosts.map((h) => [h.name, h]));
    expect(byName.jump).toMatchObject({ address: "203.0.113.5", username: "ops", port: 22, jump: undefined });
    expect(byName.db1).toMatchObject({ username: "postgres", jump: [{ host: "jump" }], tags: { db: "yes", private: "yes" } });
    expect(byName.db2).toMatchObject({ jump: [{ host: "other", user: "ops", port: 2222 }] });
    expect(byName.db3).toMatchObject({ jump: [{ host: "jump" }] });
    expect(byName.db4).toBeUndefined();
    expect(byName.db5).toMatchObject({ jump: "none" });
    expect(inv.skipped).toEqual([{ name: "db4", reason: expect.stringMatching(/line 9: ansible_ssh_common_args: ProxyCommand "nc -x proxy %h %p" is not "ssh -W %h:%p HOST"/) }]);
  });
});

describe("bastions in ssh options", () => {
  it("reads ProxyJump hops, ProxyCommand ssh -W, and ssh arguments", () => {
    expect(parseProxyJump("b1,deploy@b2:2222")).toEqual([
      { host: "b1", user: undefined, port: undefined },
      { host: "b2", user: "deploy", port: 2222 },
    ]);
    expect(parseProxyJump("ssh://ops@[2001:db8::1]:22")).toEqual([{ host: "2001:db8::1", user: "ops", port: 22 }]);
    expect(parseProxyJump("None")).toBe("none");
    expect(parseProxyJump("a b")).toMatchObject({ problem: expect.stringContaining("not [user@]host[:port]") });
    expect(parseProxyCommand("ssh -q -W %h:%p jump")).toEqual([{ host: "jump", user: undefined, port: undefined }]);
    expect(parseProxyCommand("/usr/bin/ssh -l ops -p 2200 -W [%h]:%p jump.example.com")).toEqual([{ host: "jump.example.com", user: "ops", port: 2200 }]);
    expect(parseProxyCommand("ssh -W %h:%p -i key jump")).toMatchObject({ problem: expect.any(String) });
    expect(parseProxyCommand("ssh jump nc %h %p")).toMatchObject({ problem: expect.any(String) });
    expect(parseProxyCommand("connect-proxy -H proxy:3128 %h %p")).toMatchObject({ problem: expect.any(String) });
    expect(jumpFromSshArgs("-o StrictHostKeyChecking=no")).toBeUndefined();
    expect(jumpFromSshArgs("-J b1,b2")).toEqual([{ host: "b1" }, { host: "b2" }].map((h) => ({ ...h, user: undefined, port: undefined })));
    expect(jumpFromSshArgs("-oProxyJump=b1")).toEqual([{ host: "b1", user: undefined, port: undefined }]);
  });
});
