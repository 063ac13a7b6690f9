import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { describeProbe, importInventory, repinHost } from "../core/host-admin.js";
import { getHost } from "../core/hosts.js";
import { parseInventory } from "../core/inventory.js";
import { recordAudit } from "../core/audit.js";
import { readCredential } from "./hosts.js";
import { cliActor, CliUsageError, parseVerbArgs, withDatabase, type Verb } from "./shared.js";

/** Host commands that reach the host over SSH, and import. */

const test: Verb = {
  name: "test",
  summary: "connect to a host and report",
  help: `Usage: testum hosts test NAME

Connects to the host and reports its host key fingerprint, the latency and
whether authentication worked. Exit code 1 when it does not work.`,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 1);
    if (values.help) return void console.log(this.help);
    if (!positionals[0]) throw new CliUsageError("missing NAME", this.help);
    return withDatabase(async (ctx) => {
      const host = await getHost(ctx.sql, positionals[0]!);
      const probe = await (await ctx.remote()).probe(host);
      await recordAudit(ctx.sql, { actor: cliActor(), action: "host.test", target: host.name, outcome: probe.authenticated ? "succeeded" : "failed", detail: { fingerprint: probe.fingerprint ?? null } });
      console.log(describeProbe(host, probe).join("\n"));
      return probe.authenticated ? 0 : 1;
    });
  },
};

const repin: Verb = {
  name: "repin",
  summary: "accept a host's new host key",
  help: `Usage: testum hosts repin NAME

Connects, shows the pinned and the presented host key fingerprints, and pins
the presented one. Do this only when you know why the key changed (the host
was rebuilt); a changed key can also mean someone is intercepting.`,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 1);
    if (values.help) return void console.log(this.help);
    if (!positionals[0]) throw new CliUsageError("missing NAME", this.help);
    await withDatabase(async (ctx) => {
      const result = await repinHost(ctx.sql, await ctx.remote(), cliActor(), positionals[0]!);
      if (result.old === result.new) console.log(`The host key of ${positionals[0]} is unchanged: ${result.new}`);
      else console.log(`Re-pinned ${positionals[0]}:\n  old: ${result.old ?? "none"}\n  new: ${result.new}`);
    });
  },
};

const IMPORT_HELP = `Usage: testum hosts import FILE [--user USER]

Adds or updates hosts from an OpenSSH client config (Host, HostName, User,
Port, IdentityFile) or an Ansible INI inventory (groups become tags GROUP=yes;
ansible_host, ansible_port, ansible_user, ansible_ssh_private_key_file).
Hosts with a key file get that key; others authenticate with testum's
identity key. Prints what was added, updated and skipped, and why.

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
    const inventory = parseInventory(text);
    const readKey = (path: string) => readCredential({ "key-file": path.replace(/^~(?=\/)/, homedir()) });
    return withDatabase(async ({ sql, box }) => {
      const summary = await importInventory(sql, box, cliActor(), inventory, readKey, values.user ?? "root");
      console.log(`Read ${file} as ${inventory.format === "openssh" ? "an OpenSSH client config" : "an Ansible inventory"}.`);
      console.log(`Added ${summary.added.length}: ${summary.added.join(", ") || "-"}`);
      console.log(`Updated ${summary.updated.length}: ${summary.updated.join(", ") || "-"}`);
      console.log(`Skipped ${summary.skipped.length}:${summary.skipped.map((s) => `\n  ${s.name}: ${s.reason}`).join("") || " -"}`);
      return summary.skipped.length > 0 ? 1 : 0;
    });
  },
};

export const HOST_REMOTE_VERBS: readonly Verb[] = [test, repin, importVerb];
