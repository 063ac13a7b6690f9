import { HOST_NAME } from "./grammar.js";

/**
 * Reading hosts from files people already have: an OpenSSH client config
 * (`~/.ssh/config`) or an Ansible INI inventory.
 */
export interface ImportedHost {
  readonly name: string;
  readonly address: string;
  readonly port?: number | undefined;
  readonly username?: string | undefined;
  /** IdentityFile / ansible_ssh_private_key_file, as written (may start with ~). */
  readonly identityFile?: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  /** Where it came from, for messages: `line 12`. */
  readonly source: string;
}

export interface Skipped {
  readonly name: string;
  readonly reason: string;
}

export interface Inventory {
  readonly format: "openssh" | "ansible";
  readonly hosts: ImportedHost[];
  readonly skipped: Skipped[];
}

/** Host names testum accepts are lower case; other names are turned into one where that is safe. */
function hostName(raw: string): string | undefined {
  const name = raw.toLowerCase();
  return HOST_NAME.test(name) ? name : undefined;
}

function portOf(value: string | undefined): number | undefined | "bad" {
  if (value === undefined) return undefined;
  const port = Number(value);
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : "bad";
}

export function parseOpenSshConfig(text: string): Inventory {
  const hosts: ImportedHost[] = [];
  const skipped: Skipped[] = [];
  type Block = { patterns: string[]; line: number; options: Map<string, string> };
  const blocks: Block[] = [];
  let current: Block | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    if (!match) return;
    const keyword = match[1]!.toLowerCase();
    const value = match[2]!.trim().replace(/^"(.*)"$/, "$1");
    if (keyword === "host") {
      current = { patterns: value.split(/\s+/), line: index + 1, options: new Map() };
      blocks.push(current);
    } else if (keyword === "match") {
      current = undefined;
      skipped.push({ name: `Match ${value}`, reason: `line ${index + 1}: Match blocks are not imported` });
    } else if (current && !current.options.has(keyword)) {
      // ssh uses the first value it finds for each option.
      current.options.set(keyword, value);
    }
  });
  for (const block of blocks) {
    for (const pattern of block.patterns) {
      if (/[*?!]/.test(pattern)) {
        skipped.push({ name: pattern, reason: `line ${block.line}: a pattern, not a single host` });
        continue;
      }
      const name = hostName(pattern);
      if (!name) {
        skipped.push({ name: pattern, reason: `line ${block.line}: not a valid testum host name (1-63 of a-z 0-9 - . _)` });
        continue;
      }
      const port = portOf(block.options.get("port"));
      if (port === "bad") {
        skipped.push({ name, reason: `line ${block.line}: Port "${block.options.get("port")}" is not a port number` });
        continue;
      }
      hosts.push({
        name,
        address: block.options.get("hostname") ?? pattern,
        port,
        username: block.options.get("user"),
        identityFile: block.options.get("identityfile"),
        tags: {},
        source: `line ${block.line}`,
      });
    }
  }
  return { format: "openssh", hosts, skipped };
}

/** Ansible INI: `[group]` sections, `[group:children]`, `[group:vars]`, and `host key=value…` lines. */
export function parseAnsibleInventory(text: string): Inventory {
  const skipped: Skipped[] = [];
  const entries = new Map<string, { vars: Map<string, string>; groups: Set<string>; line: number }>();
  const children = new Map<string, Set<string>>();
  let section: { group: string; kind: "hosts" | "children" | "vars" } = { group: "ungrouped", kind: "hosts" };
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/\s[#;].*$/, "").trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const header = /^\[([^\]:]+)(?::(children|vars))?\]$/.exec(line);
    if (header) {
      section = { group: header[1]!, kind: (header[2] as "children" | "vars" | undefined) ?? "hosts" };
      return;
    }
    if (section.kind === "vars") return;
    if (section.kind === "children") {
      if (!children.has(section.group)) children.set(section.group, new Set());
      children.get(section.group)!.add(line.split(/\s+/)[0]!);
      return;
    }
    const [host, ...pairs] = line.split(/\s+/);
    if (/[[\]]/.test(host!)) {
      skipped.push({ name: host!, reason: `line ${index + 1}: host ranges are not imported; list the hosts one by one` });
      return;
    }
    const entry = entries.get(host!) ?? { vars: new Map(), groups: new Set<string>(), line: index + 1 };
    for (const pair of pairs) {
      const eq = pair.indexOf("=");
      if (eq > 0) entry.vars.set(pair.slice(0, eq), pair.slice(eq + 1).replace(/^["'](.*)["']$/, "$1"));
    }
    if (section.group !== "ungrouped") entry.groups.add(section.group);
    entries.set(host!, entry);
  });
  // Hosts of a child group also belong to its parents.
  const parentsOf = (group: string, seen = new Set<string>()): string[] => {
    const parents: string[] = [];
    for (const [parent, kids] of children) {
      if (kids.has(group) && !seen.has(parent)) {
        seen.add(parent);
        parents.push(parent, ...parentsOf(parent, seen));
      }
    }
    return parents;
  };
  const hosts: ImportedHost[] = [];
  for (const [raw, entry] of entries) {
    const name = hostName(raw);
    if (!name) {
      skipped.push({ name: raw, reason: `line ${entry.line}: not a valid testum host name (1-63 of a-z 0-9 - . _)` });
      continue;
    }
    const port = portOf(entry.vars.get("ansible_port") ?? entry.vars.get("ansible_ssh_port"));
    if (port === "bad") {
      skipped.push({ name, reason: `line ${entry.line}: ansible_port is not a port number` });
      continue;
    }
    const groups = new Set<string>();
    for (const g of entry.groups) for (const x of [g, ...parentsOf(g)]) groups.add(x);
    const tags: Record<string, string> = {};
    // Each group becomes a tag `GROUP=yes`, so `run web=yes …` selects the group.
    for (const g of groups) {
      const key = g.toLowerCase();
      if (/^[a-z0-9_.-]{1,63}$/.test(key)) tags[key] = "yes";
    }
    hosts.push({
      name,
      address: entry.vars.get("ansible_host") ?? entry.vars.get("ansible_ssh_host") ?? raw,
      port,
      username: entry.vars.get("ansible_user") ?? entry.vars.get("ansible_ssh_user"),
      identityFile: entry.vars.get("ansible_ssh_private_key_file") ?? entry.vars.get("ansible_private_key_file"),
      tags,
      source: `line ${entry.line}`,
    });
  }
  return { format: "ansible", hosts, skipped };
}

/** Tells the two formats apart: OpenSSH configs have `Host` lines, inventories `[groups]` or bare hosts. */
export function parseInventory(text: string): Inventory {
  return /^\s*Host\s+\S/im.test(text) ? parseOpenSshConfig(text) : parseAnsibleInventory(text);
}
