import { readFile } from "node:fs/promises";
import { recordAudit } from "../core/audit.js";
import { readNamedSecret } from "../core/config.js";
import { addHost, listHosts, removeHost, type Host } from "../core/hosts.js";
import { createSecretBox } from "../core/secret-box.js";
import type { Credential } from "../core/secrets.js";
import { cliActor, CliUsageError, parseVerbArgs, printJsonLines, printTable, withDatabase, type Verb } from "./shared.js";

const ADD_HELP = `Usage: testum hosts add NAME --host ADDRESS --user USER (--key-file PATH | --password-env VAR) [options]

Adds a host testum can run commands on. The credential is encrypted at rest
under TESTUM_MASTER_KEY and never printed back.

  NAME                  1-63 characters of a-z 0-9 - . _
  --host ADDRESS        host name or IP address
  --port PORT           SSH port (default 22)
  --user USER           login user
  --key-file PATH       private key file (OpenSSH or PEM)
  --passphrase-env VAR  environment variable holding the key's passphrase
  --password-env VAR    environment variable holding the password
  --fingerprint FP      expected host key, as ssh-keygen -l prints it (SHA256:…);
                        without it the key seen on first contact is pinned
  --tag KEY=VALUE       a tag (repeatable)`;

const LIST_HELP = `Usage: testum hosts list [--json]

Lists hosts: name, address, tags, host key state, last contact.
  --json   one JSON object per line`;

const RM_HELP = `Usage: testum hosts rm NAME

Removes a host and its stored credential.`;

function parseTags(values: string[] | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const value of values ?? []) {
    const match = /^([a-z0-9_.-]{1,63})=([^\s]{0,200})$/i.exec(value);
    if (!match) throw new CliUsageError(`--tag expects KEY=VALUE (letters, digits, - . _ in the key), got "${value}"`, ADD_HELP);
    tags[match[1]!.toLowerCase()] = match[2]!;
  }
  return tags;
}

const add: Verb = {
  name: "add",
  summary: "add a host",
  help: ADD_HELP,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {
      host: { type: "string" },
      port: { type: "string" },
      user: { type: "string" },
      "key-file": { type: "string" },
      "passphrase-env": { type: "string" },
      "password-env": { type: "string" },
      fingerprint: { type: "string" },
      tag: { type: "string", multiple: true },
    }, 1);
    if (values.help) return void console.log(ADD_HELP);
    const name = positionals[0];
    if (!name) throw new CliUsageError("missing NAME", ADD_HELP);
    if (!values.host) throw new CliUsageError("missing --host ADDRESS", ADD_HELP);
    if (!values.user) throw new CliUsageError("missing --user USER", ADD_HELP);
    if (Boolean(values["key-file"]) === Boolean(values["password-env"])) {
      throw new CliUsageError("give exactly one of --key-file PATH or --password-env VAR", ADD_HELP);
    }
    const port = values.port === undefined ? 22 : Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliUsageError(`--port expects 1-65535, got "${values.port}"`, ADD_HELP);
    let credential: Credential;
    if (values["key-file"]) {
      const privateKey = await readFile(values["key-file"], "utf8").catch((err: NodeJS.ErrnoException) => {
        throw new CliUsageError(`cannot read --key-file ${values["key-file"]}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
      });
      const passphrase = values["passphrase-env"] ? readNamedSecret(values["passphrase-env"]) : undefined;
      const { checkPrivateKey } = await import("../worker/ssh.js");
      checkPrivateKey(privateKey, passphrase);
      credential = { type: "key", privateKey, passphrase };
    } else {
      credential = { type: "password", password: readNamedSecret(values["password-env"]!) };
    }
    const tags = parseTags(values.tag);
    await withDatabase(async ({ config, sql }) => {
      const box = createSecretBox([config.masterKey]);
      const host = await addHost(sql, box, {
        name,
        address: values.host!,
        port,
        username: values.user!,
        credential,
        fingerprint: values.fingerprint,
        tags,
        createdBy: cliActor(),
      });
      await recordAudit(sql, {
        actor: cliActor(),
        action: "host.add",
        target: host.name,
        outcome: "added",
        detail: { address: host.address, port: host.port, user: host.username, auth: host.authMethod, fingerprint: host.hostKeyFingerprint },
      });
      console.log(
        `Added ${host.name} (${host.username}@${host.address}:${host.port}, ${credential.type === "key" ? "private key" : "password"}). ` +
          (host.hostKeyFingerprint ? `Host key pinned: ${host.hostKeyFingerprint}` : "Its host key will be pinned on first contact."),
      );
    });
  },
};

function hostRow(h: Host) {
  return {
    name: h.name,
    address: h.address,
    port: h.port,
    user: h.username,
    auth: h.authMethod,
    tags: h.tags,
    hostKey: h.hostKeyFingerprint,
    lastSeen: h.lastSeenAt?.toISOString() ?? null,
  };
}

const list: Verb = {
  name: "list",
  summary: "list hosts",
  help: LIST_HELP,
  async run(args) {
    const { values } = parseVerbArgs(this, args, { json: { type: "boolean" } });
    if (values.help) return void console.log(LIST_HELP);
    await withDatabase(async ({ sql }) => {
      const hosts = await listHosts(sql);
      if (values.json) return printJsonLines(hosts.map(hostRow));
      if (hosts.length === 0) return void console.log("No hosts. Add one with: testum hosts add --help");
      printTable(
        ["NAME", "ADDRESS", "TAGS", "HOST KEY", "LAST SEEN"],
        hosts.map((h) => [
          h.name,
          `${h.username}@${h.address}:${h.port}`,
          Object.entries(h.tags).map(([k, v]) => `${k}=${v}`).join(",") || "-",
          h.hostKeyFingerprint ?? "not pinned yet",
          h.lastSeenAt?.toISOString() ?? "never",
        ]),
      );
    });
  },
};

const rm: Verb = {
  name: "rm",
  summary: "remove a host",
  help: RM_HELP,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 1);
    if (values.help) return void console.log(RM_HELP);
    const name = positionals[0];
    if (!name) throw new CliUsageError("missing NAME", RM_HELP);
    await withDatabase(async ({ sql }) => {
      const host = await removeHost(sql, name);
      await recordAudit(sql, { actor: cliActor(), action: "host.remove", target: host.name, outcome: "removed" });
      console.log(`Removed ${host.name}.`);
    });
  },
};

export const HOST_VERBS: readonly Verb[] = [add, list, rm];
