import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { describeProbe, importInventory, inspectHostKey, repinHost } from "../core/hosts/host-admin.js";
import { FINGERPRINT } from "../core/hosts/hosts.js";
import { getHost } from "../core/hosts/hosts.js";
import { looksLikeOpenSshConfig, parseAnsibleInventory } from "../core/hosts/inventory.js";
import { parseOpenSshConfig } from "./openssh-config.js";
import { recordAudit } from "../core/access/audit.js";
import { HOST_VERBS, readCredential } from "./hosts.js";
import { cliActor, CliUsageError, forCommandLine, parseVerbArgs, withDatabase, type Verb } from "./shared.js";

/** Host commands that reach the host over SSH, and import. */

const test: Verb = {
  name: "test",
  summary: "connect to a host and report",
  help: `Usage: testum hosts test NAME

Connects to the host and reports its host key fingerprint, the latency and
whether authentication worked. Exit code 1 when it does not work.`,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 2);
    if (values.help) return void console.log(this.help);
    if (!positionals[0]) throw new CliUsageError("missing NAME", this.help);
    return withDatabase(async (ctx) => {
      const host = await getHost(ctx.sql, positionals[0]!);
      const probe = await (await ctx.remote()).probe(host);
      await recordAudit(ctx.sql, {
        actor: cliActor(),
        action: "host.test",
        target: host.name,
        outcome: probe.authenticated ? "succeeded" : "failed",
        detail: { fingerprint: probe.fingerprint ?? null },
      });
      console.log(forCommandLine(describeProbe(host, probe).join("\n"), [{ name: "hosts", verbs: [...HOST_VERBS, ...HOST_REMOTE_VERBS] }]));
      return probe.authenticated ? 0 : 1;
    });
  },
};

const repin: Verb = {
  name: "repin",
  summary: "show a host's new host key, and pin it once confirmed",
  help: `Usage: testum hosts repin NAME [FINGERPRINT]

Without FINGERPRINT: reads the host key the host presents (only the key: no
password or key is offered to it) and shows it next to the pinned one.
With FINGERPRINT (SHA256:…): pins the presented key if it is that one.
Confirm only when you know why the key changed (the host was rebuilt); a
changed key can also mean someone is intercepting.`,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 2);
    if (values.help) return void console.log(this.help);
    if (!positionals[0]) throw new CliUsageError("missing NAME", this.help);
    // 1 while the presented key is not the pinned one and was not confirmed.
    let code = 0;
    await withDatabase(async (ctx) => {
      const name = positionals[0]!;
      const confirmed = positionals[1];
      if (confirmed === undefined) {
        const { old, presented } = await inspectHostKey(ctx.sql, await ctx.remote(), name);
        if (old === presented) return void console.log(`The host key of ${name} is unchanged: ${presented}`);
        console.log(
          `The host key of ${name} is not the pinned one. Nothing was pinned and no credential was sent.\n  pinned:    ${old ?? "none"}\n  presented: ${presented}\nCompare it with the key on the host, then pin it with:\n  testum hosts repin ${name} ${presented}`,
        );
        code = 1;
        return;
      }
      if (!FINGERPRINT.test(confirmed)) throw new CliUsageError(`"${confirmed}" is not a host key fingerprint (SHA256:…)`, this.help);
      const result = await repinHost(ctx.sql, await ctx.remote(), cliActor(), name, confirmed);
      if (result.old === result.new) console.log(`The host key of ${name} is unchanged: ${result.new}`);
      else console.log(`Re-pinned ${name}:\n  old: ${result.old ?? "none"}\n  new: ${result.new}`);
    });
    return code;
  },
};

const IMPORT_HELP = `Usage: testum hosts import FILE [--user USER]

Adds or updates hosts from an OpenSSH client config or an Ansible INI
inventory, and prints what was added, updated and skipped, and why.

OpenSSH config: every Host name that is one host (not a pattern) is imported
with the options ssh would use for it (Host * and Match blocks included;
Match exec is never run): HostName (%h expanded), User, Port, IdentityFile,
and ProxyJump, or a ProxyCommand that is "ssh -W %h:%p HOST", as its bastion.

Ansible inventory: groups become tags GROUP=yes; [group:vars] and [all:vars]
apply; ansible_host, ansible_port, ansible_user, ansible_ssh_private_key_file,
and ansible_ssh_common_args / ansible_ssh_extra_args with -o ProxyJump=…,
-J … or -o ProxyCommand="ssh -W %h:%p HOST" as its bastion.

A bastion must be in the same file or already registered (by name, or by
address); bastions are imported before the hosts behind them. Several hops
(ProxyJump a,b) are taken when b itself goes through a. A host whose file
names no bastion keeps its route; ProxyJump none makes it direct.
Hosts with a key file get that key; others authenticate with testum's
identity key.

  --user USER   login user where the file names none (default: root)`;

const importVerb: Verb = {
  name: "import",
  summary: "import hosts from ~/.ssh/config or an Ansible inventory",
  help: IMPORT_HELP,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, { user: { type: "string" } }, 1);
    if (values.help) return void console.log(IMPORT_HELP);
    const file = positionals[0];
    if (!file) throw new CliUsageError("missing FILE", IMPORT_HELP);
    const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new CliUsageError(`cannot read ${file}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
    });
    const inventory = looksLikeOpenSshConfig(text) ? parseOpenSshConfig(text) : parseAnsibleInventory(text);
    const readKey = (path: string) => readCredential({ "key-file": path.replace(/^~(?=\/)/, homedir()) });
    return withDatabase(async ({ sql, box }) => {
      const summary = await importInventory(sql, box, cliActor(), inventory, readKey, values.user ?? "root");
      console.log(`Read ${file} as ${inventory.format === "openssh" ? "an OpenSSH client config" : "an Ansible inventory"}.`);
      console.log(`Added ${summary.added.length}: ${summary.added.join(", ") || "-"}`);
      console.log(`Updated ${summary.updated.length}: ${summary.updated.join(", ") || "-"}`);
      const routed = Object.entries(summary.via);
      if (routed.length > 0) console.log(`Through a bastion: ${routed.map(([name, via]) => `${name} via ${via}`).join(", ")}`);
      console.log(`Skipped ${summary.skipped.length}:${summary.skipped.map((s) => `\n  ${s.name}: ${s.reason}`).join("") || " -"}`);
      return summary.skipped.length > 0 ? 1 : 0;
    });
  },
};

export const HOST_REMOTE_VERBS: readonly Verb[] = [test, repin, importVerb];
