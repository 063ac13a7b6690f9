import { readFile } from "node:fs/promises";
import { recordAudit } from "../core/access/audit.js";
import { addKey, deployKeys, keyStatus, listKeys, removeKey, revokeKey, targetOf } from "../core/hosts/team-keys.js";
import { cliActor, CliUsageError, parseVerbArgs, printJsonLines, printOutcomes, printTable, withDatabase, type Verb } from "./shared.js";

/** `testum keys …`: the team's public keys and their deployment. */

const list: Verb = {
  name: "list",
  summary: "list team keys",
  help: "Usage: testum keys list [--json]\n\nLists the team's public keys: name, type, fingerprint, comment.",
  async run(args) {
    const { values } = parseVerbArgs(this, args, { json: { type: "boolean" } });
    if (values.help) return void console.log(this.help);
    await withDatabase(async ({ sql }) => {
      const keys = await listKeys(sql);
      if (values.json) return printJsonLines(keys.map((k) => ({ name: k.name, type: k.type, fingerprint: k.fingerprint, comment: k.comment })));
      printTable(
        ["NAME", "TYPE", "FINGERPRINT", "COMMENT"],
        keys.map((k) => [k.name, k.type, k.fingerprint, k.comment]),
      );
    });
  },
};

const add: Verb = {
  name: "add",
  summary: "register a public key",
  help: `Usage: testum keys add NAME (--file PATH.pub | 'ssh-ed25519 AAAA… comment')

Registers a team member's PUBLIC key. A private key is refused and not stored.`,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, { file: { type: "string" } }, 2);
    if (values.help) return void console.log(this.help);
    const [name, inline] = positionals;
    if (!name || Boolean(inline) === Boolean(values.file)) throw new CliUsageError("give NAME and the key line, or NAME --file PATH", this.help);
    const line = values.file
      ? await readFile(values.file, "utf8").catch((err: NodeJS.ErrnoException) => {
          throw new CliUsageError(`cannot read ${values.file}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
        })
      : inline!;
    await withDatabase(async ({ sql }) => {
      const key = await addKey(sql, cliActor(), name, line);
      await recordAudit(sql, { actor: cliActor(), action: "keys.add", target: key.name, outcome: "added", detail: { type: key.type, fingerprint: key.fingerprint } });
      console.log(`Added ${key.name}: ${key.type} ${key.fingerprint}`);
    });
  },
};

const rm: Verb = {
  name: "rm",
  summary: "remove a key from testum",
  help: "Usage: testum keys rm NAME\n\nRemoves a key from testum. Revoke it from hosts first (keys revoke NAME all).",
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 1);
    if (values.help) return void console.log(this.help);
    if (!positionals[0]) throw new CliUsageError("missing NAME", this.help);
    await withDatabase(async ({ sql }) => {
      const key = await removeKey(sql, positionals[0]!);
      await recordAudit(sql, { actor: cliActor(), action: "keys.remove", target: key.name, outcome: "removed", detail: { fingerprint: key.fingerprint } });
      console.log(`Removed ${key.name}.`);
    });
  },
};

const TARGET = "TARGET: a host, hosts joined by commas, a glob (web-*), tags (role=web,env=prod) or all";

function remoteVerb(name: string, summary: string, usage: string, run: (ctx: Parameters<Parameters<typeof withDatabase>[0]>[0], positionals: string[]) => Promise<number>): Verb {
  const help = `Usage: testum keys ${usage}\n\n${summary}.\n${TARGET}`;
  const count = usage.split(" ").length - 1;
  return {
    name,
    summary: summary.toLowerCase(),
    help,
    async run(args) {
      const { values, positionals } = parseVerbArgs(this, args, {}, count);
      if (values.help) return void console.log(help);
      if (positionals.length !== count) throw new CliUsageError(`expected ${usage}`, help);
      return withDatabase((ctx) => run(ctx, positionals));
    },
  };
}

export const KEY_VERBS: readonly Verb[] = [
  list,
  add,
  rm,
  remoteVerb("deploy", "Puts a key (or all keys) into testum's block of each host's authorized_keys", "deploy NAME|all TARGET", async (ctx, [key, target]) =>
    printOutcomes(await deployKeys({ sql: ctx.sql, remote: await ctx.remote() }, cliActor(), key!, await targetOf(ctx.sql, target!))),
  ),
  remoteVerb("revoke", "Removes a key from testum's block on each host", "revoke NAME TARGET", async (ctx, [key, target]) =>
    printOutcomes(await revokeKey({ sql: ctx.sql, remote: await ctx.remote() }, cliActor(), key!, await targetOf(ctx.sql, target!))),
  ),
  remoteVerb("status", "Shows, per host, the managed keys present and missing and the lines testum does not manage", "status TARGET", async (ctx, [target]) =>
    printOutcomes(await keyStatus({ sql: ctx.sql, remote: await ctx.remote() }, (await targetOf(ctx.sql, target!)).hosts)),
  ),
];
