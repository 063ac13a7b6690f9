import { readFile } from "node:fs/promises";
import { recordAudit } from "../core/access/audit.js";
import { readNamedSecret } from "../core/config.js";
import { describeHost, parseTags, removeTags, setCredential, setTags } from "../core/hosts/host-admin.js";
import { addHost, bastionNames, getHost, getHostById, listHosts, removeHost, setVia, type Host } from "../core/hosts/hosts.js";
import type { Credential } from "../core/hosts/secrets.js";
import { cliActor, CliUsageError, parseVerbArgs, printJsonLines, printTable, withDatabase, type Verb } from "./shared.js";
import { formatTime } from "../core/chat/time.js";

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
  --tag KEY=VALUE       a tag (repeatable)
  --via BASTION         reach the host through BASTION, a registered host with
                        its own credential and pinned key: testum connects to
                        the bastion, opens a channel from it to ADDRESS:PORT
                        and checks this host's key too. Several hops: give the
                        bastion its own --via (testum hosts via BASTION OUTER).`;

const LIST_HELP = `Usage: testum hosts list [--json]

Lists hosts: name, address, tags, host key state, last contact.
  --json   one JSON object per line`;

const RM_HELP = `Usage: testum hosts rm NAME

Removes a host and its stored credential. A bastion that other hosts go
through is not removed: remove those hosts or route them elsewhere first.`;

const VIA_HELP = `Usage: testum hosts via NAME [BASTION]

Reaches NAME through BASTION, a registered host with its own credential and
pinned host key; without BASTION, NAME is reached directly. testum connects
to the bastion, opens a TCP channel from it to NAME's address and port, and
speaks SSH to NAME over that channel, checking NAME's pinned key as well:
a changed key on either host is refused. For several hops give the bastion
its own bastion. A route that comes back to NAME is refused.

Running commands on NAME needs rights on NAME only: nothing runs on the
bastion, it only carries the connection.`;

const via: Verb = {
  name: "via",
  summary: "reach a host through a bastion, or directly",
  help: VIA_HELP,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 2);
    if (values.help) return void console.log(VIA_HELP);
    const [name, bastion] = positionals;
    if (!name) throw new CliUsageError("missing NAME", VIA_HELP);
    await withDatabase(async ({ sql }) => {
      const { host, old } = await setVia(sql, name, bastion);
      await recordAudit(sql, { actor: cliActor(), action: "host.via", target: host.name, outcome: bastion ? "routed" : "direct", detail: { old, via: bastion ?? null } });
      console.log(bastion ? `${host.name} now goes through ${bastion} (was: ${old ?? "directly"}).` : `${host.name} is now reached directly (was: ${old ?? "directly"}).`);
    });
  },
};

/** Reads a credential from --key-file (+ --passphrase-env) or --password-env; checks a key parses. */
export async function readCredential(values: { "key-file"?: string; "passphrase-env"?: string; "password-env"?: string }): Promise<Credential> {
  if (values["key-file"]) {
    const privateKey = await readFile(values["key-file"], "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new CliUsageError(`cannot read --key-file ${values["key-file"]}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
    });
    const passphrase = values["passphrase-env"] ? readNamedSecret(values["passphrase-env"]) : undefined;
    const { checkPrivateKey } = await import("../adapters/ssh/keys.js");
    checkPrivateKey(privateKey, passphrase);
    return { type: "key", privateKey, passphrase };
  }
  return { type: "password", password: readNamedSecret(values["password-env"]!) };
}

const add: Verb = {
  name: "add",
  summary: "add a host",
  help: ADD_HELP,
  async run(args) {
    const { values, positionals } = parseVerbArgs(
      this,
      args,
      {
        host: { type: "string" },
        port: { type: "string" },
        user: { type: "string" },
        "key-file": { type: "string" },
        "passphrase-env": { type: "string" },
        "password-env": { type: "string" },
        fingerprint: { type: "string" },
        tag: { type: "string", multiple: true },
        via: { type: "string" },
      },
      1,
    );
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
    const credential = await readCredential(values);
    const tags = parseTags(values.tag ?? []);
    await withDatabase(async ({ sql, box }) => {
      const host = await addHost(sql, box, {
        name,
        address: values.host!,
        port,
        username: values.user!,
        credential,
        fingerprint: values.fingerprint,
        tags,
        via: values.via,
        createdBy: cliActor(),
      });
      await recordAudit(sql, {
        actor: cliActor(),
        action: "host.add",
        target: host.name,
        outcome: "added",
        detail: { address: host.address, port: host.port, user: host.username, auth: host.authMethod, fingerprint: host.hostKeyFingerprint, via: values.via ?? null },
      });
      console.log(
        `Added ${host.name} (${host.username}@${host.address}:${host.port}${values.via ? ` via ${values.via}` : ""}, ${credential.type === "key" ? "private key" : "password"}). ` +
          (host.hostKeyFingerprint ? `Host key pinned: ${host.hostKeyFingerprint}` : "Its host key will be pinned on first contact."),
      );
    });
  },
};

function hostRow(h: Host, via: string | null) {
  return {
    name: h.name,
    address: h.address,
    port: h.port,
    user: h.username,
    via,
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
      const viaOf = bastionNames(hosts);
      if (values.json) return printJsonLines(hosts.map((h) => hostRow(h, viaOf(h))));
      if (hosts.length === 0) return void console.log("No hosts. Add one with: testum hosts add --help");
      printTable(
        ["NAME", "ADDRESS", "VIA", "TAGS", "HOST KEY", "LAST SEEN"],
        hosts.map((h) => [
          h.name,
          `${h.username}@${h.address}:${h.port}`,
          viaOf(h) ?? "-",
          Object.entries(h.tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(",") || "-",
          h.hostKeyFingerprint ?? "not pinned yet",
          h.lastSeenAt ? formatTime(h.lastSeenAt) : "never",
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

const show: Verb = {
  name: "show",
  summary: "show a host",
  help: `Usage: testum hosts show NAME [--json]

Shows a host's address, credential kind (never the credential), host key, tags and last contact.`,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, { json: { type: "boolean" } }, 1);
    if (values.help) return void console.log(this.help);
    if (!positionals[0]) throw new CliUsageError("missing NAME", this.help);
    await withDatabase(async ({ sql }) => {
      const host = await getHost(sql, positionals[0]!);
      const via = host.viaHostId === null ? null : ((await getHostById(sql, host.viaHostId))?.name ?? null);
      if (values.json) printJsonLines([hostRow(host, via)]);
      else console.log(describeHost(host, undefined, via).join("\n"));
    });
  },
};

const tag: Verb = {
  name: "tag",
  summary: "set tags on a host",
  help: `Usage: testum hosts tag NAME KEY=VALUE…

Sets tags (replacing the value of a key that exists). Tags select hosts: run role=web …`,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 64);
    if (values.help) return void console.log(this.help);
    const [name, ...pairs] = positionals;
    if (!name || pairs.length === 0) throw new CliUsageError("give NAME and at least one KEY=VALUE", this.help);
    await withDatabase(async ({ sql }) => {
      const host = await setTags(sql, cliActor(), name, parseTags(pairs));
      console.log(
        `${host.name}: ${Object.entries(host.tags)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ")}`,
      );
    });
  },
};

const untag: Verb = {
  name: "untag",
  summary: "remove tags from a host",
  help: `Usage: testum hosts untag NAME KEY…

Removes the tags with these keys.`,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 64);
    if (values.help) return void console.log(this.help);
    const [name, ...keys] = positionals;
    if (!name || keys.length === 0) throw new CliUsageError("give NAME and at least one tag KEY", this.help);
    await withDatabase(async ({ sql }) => {
      const host = await removeTags(sql, cliActor(), name, keys);
      console.log(
        `${host.name}: ${
          Object.entries(host.tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(", ") || "no tags"
        }`,
      );
    });
  },
};

const SECRET_HELP = `Usage: testum hosts secret NAME (--key-file PATH [--passphrase-env VAR] | --password-env VAR)

Stores a new credential for a host, encrypted, and uses it from the next connection.
The old credential is deleted.`;

const secret: Verb = {
  name: "secret",
  summary: "replace a host's credential",
  help: SECRET_HELP,
  async run(args) {
    const { values, positionals } = parseVerbArgs(
      this,
      args,
      {
        "key-file": { type: "string" },
        "passphrase-env": { type: "string" },
        "password-env": { type: "string" },
      },
      1,
    );
    if (values.help) return void console.log(SECRET_HELP);
    if (!positionals[0]) throw new CliUsageError("missing NAME", SECRET_HELP);
    if (Boolean(values["key-file"]) === Boolean(values["password-env"])) {
      throw new CliUsageError("give exactly one of --key-file PATH or --password-env VAR", SECRET_HELP);
    }
    const credential = await readCredential(values);
    await withDatabase(async ({ sql, box }) => {
      await setCredential(sql, box, cliActor(), positionals[0]!, credential);
      console.log(`Stored a new ${credential.type === "key" ? "private key" : "password"} for ${positionals[0]}.`);
    });
  },
};

export const HOST_VERBS: readonly Verb[] = [add, list, show, rm, via, tag, untag, secret];
