import { HOST_NAME } from "../commands/grammar.js";
import { tokenize } from "../commands/tokenize.js";

/**
 * Reading hosts from files people already have: an Ansible INI inventory
 * here, an OpenSSH client config at the edge (src/cli/openssh-config.ts, with
 * the ssh-config parser), both into this plain form.
 */
export interface ImportedHost {
  readonly name: string;
  readonly address: string;
  readonly port?: number | undefined;
  readonly username?: string | undefined;
  /** IdentityFile / ansible_ssh_private_key_file, as written (may start with ~). */
  readonly identityFile?: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  /**
   * The bastions to go through, outermost first (ProxyJump `a,b`: `a` then
   * `b`); "none": directly, said explicitly; undefined: the file says nothing.
   */
  readonly jump?: readonly JumpHop[] | "none" | undefined;
  /** Where it came from, for messages: `line 12`, `Host web-1`. */
  readonly source: string;
}

/** One hop of a ProxyJump: `[user@]host[:port]` as written. */
export interface JumpHop {
  readonly host: string;
  readonly user?: string | undefined;
  readonly port?: number | undefined;
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
export function importedHostName(raw: string): string | undefined {
  const name = raw.toLowerCase();
  return HOST_NAME.test(name) ? name : undefined;
}

export function portOf(value: string | undefined): number | undefined | "bad" {
  if (value === undefined) return undefined;
  const port = Number(value);
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : "bad";
}

/**
 * A ProxyJump value: `none`, or hops `[user@]host[:port]` (or
 * `ssh://[user@]host[:port]`) joined by commas. Returns why not otherwise.
 */
export function parseProxyJump(value: string): readonly JumpHop[] | "none" | { problem: string } {
  const text = value.trim();
  if (text.toLowerCase() === "none") return "none";
  const hops: JumpHop[] = [];
  for (const raw of text.split(",")) {
    const match = /^(?:ssh:\/\/)?(?:([^@\s/]+)@)?(\[[0-9a-fA-F:.]+\]|[^:@\s/[\]]+)(?::(\d{1,5}))?\/?$/.exec(raw.trim());
    if (!match) return { problem: `ProxyJump "${value}" is not [user@]host[:port], comma-separated` };
    const port = portOf(match[3]);
    if (port === "bad") return { problem: `ProxyJump "${value}" has a bad port` };
    hops.push({ host: match[2]!.replace(/^\[(.*)\]$/, "$1"), user: match[1], port });
  }
  return hops;
}

/** ssh options that take no value and change nothing about where a ProxyCommand goes. */
const HARMLESS_FLAGS = /^-[qTxaAC46vN]+$/;

/**
 * A ProxyCommand that is `ssh [-q…] [-l USER] [-p PORT] -W %h:%p HOST` is a
 * one-hop ProxyJump; anything else (nc, a script, other ssh options) cannot
 * be imported and says why.
 */
export function parseProxyCommand(value: string): readonly JumpHop[] | { problem: string } {
  const unsupported = { problem: `ProxyCommand "${value}" is not "ssh -W %h:%p HOST"; testum reaches bastions itself and runs no local command to connect` };
  let words: string[];
  try {
    words = tokenize(value).map((t) => t.value);
  } catch {
    return unsupported;
  }
  if (words.length === 0 || !/^(?:\S*\/)?ssh$/.test(words[0]!)) return unsupported;
  let forward = false;
  let user: string | undefined;
  let port: number | undefined;
  const rest: string[] = [];
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (word === "-W") {
      if (!/^\[?%h\]?:%p$/.test(words[++i] ?? "")) return unsupported;
      forward = true;
    } else if (word === "-l") {
      user = words[++i];
    } else if (word === "-p") {
      const p = portOf(words[++i]);
      if (p === undefined || p === "bad") return unsupported;
      port = p;
    } else if (word.startsWith("-") && !HARMLESS_FLAGS.test(word)) {
      return unsupported;
    } else if (!word.startsWith("-")) {
      rest.push(word);
    }
  }
  if (!forward || rest.length !== 1) return unsupported;
  const hops = parseProxyJump(rest[0]!);
  if (hops === "none" || "problem" in hops || hops.length !== 1) return unsupported;
  return [{ ...hops[0]!, user: hops[0]!.user ?? user, port: hops[0]!.port ?? port }];
}

/**
 * The bastions named in ssh arguments (ansible_ssh_common_args,
 * ansible_ssh_extra_args): `-J HOPS`, `-o ProxyJump=HOPS`,
 * `-o ProxyCommand="ssh -W %h:%p HOST"`. Undefined when they name none.
 */
export function jumpFromSshArgs(args: string): readonly JumpHop[] | "none" | { problem: string } | undefined {
  let words: string[];
  try {
    words = tokenize(args).map((t) => t.value);
  } catch {
    return { problem: `cannot read the ssh arguments "${args}" (an unclosed quote?)` };
  }
  let found: readonly JumpHop[] | "none" | { problem: string } | undefined;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    let option: string | undefined;
    if (word === "-J") found = parseProxyJump(words[++i] ?? "");
    else if (word.startsWith("-J")) found = parseProxyJump(word.slice(2));
    else if (word === "-o") option = words[++i];
    else if (word.startsWith("-o")) option = word.slice(2);
    if (option === undefined) continue;
    const match = /^(\w+)\s*[= ]\s*(.*)$/s.exec(option);
    if (!match) continue;
    const key = match[1]!.toLowerCase();
    if (key === "proxyjump") found = parseProxyJump(match[2]!);
    else if (key === "proxycommand") found = match[2]!.trim().toLowerCase() === "none" ? "none" : parseProxyCommand(match[2]!);
  }
  return found;
}

/** A value as an INI inventory writes it: quotes around the whole of it removed. */
function unquote(value: string): string {
  const v = value.trim();
  return /^(["']).*\1$/s.test(v) ? v.slice(1, -1) : v;
}

/**
 * Ansible INI: `[group]` sections, `[group:children]`, `[group:vars]` (also
 * `[all:vars]`), and `host key=value…` lines (values may be quoted). Variables
 * apply as Ansible applies them: `all`, then parent groups before their
 * children, then the host's own line.
 */
export function parseAnsibleInventory(text: string): Inventory {
  const skipped: Skipped[] = [];
  const entries = new Map<string, { vars: Map<string, string>; groups: Set<string>; line: number }>();
  const children = new Map<string, Set<string>>();
  const groupVars = new Map<string, Map<string, string>>();
  let section: { group: string; kind: "hosts" | "children" | "vars" } = { group: "ungrouped", kind: "hosts" };
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) return;
    const header = /^\[([^\]:]+)(?::(children|vars))?\]$/.exec(trimmed);
    if (header) {
      section = { group: header[1]!, kind: (header[2] as "children" | "vars" | undefined) ?? "hosts" };
      return;
    }
    if (section.kind === "vars") {
      // `key=value`, the value being the rest of the line (quoted or not).
      const eq = trimmed.indexOf("=");
      if (eq <= 0) return;
      const vars = groupVars.get(section.group) ?? new Map<string, string>();
      vars.set(trimmed.slice(0, eq).trim(), unquote(trimmed.slice(eq + 1).replace(/\s[#;].*$/, "")));
      groupVars.set(section.group, vars);
      return;
    }
    const line = trimmed.replace(/\s[#;].*$/, "");
    if (section.kind === "children") {
      if (!children.has(section.group)) children.set(section.group, new Set());
      children.get(section.group)!.add(line.split(/\s+/)[0]!);
      return;
    }
    let words: string[];
    try {
      words = tokenize(line).map((t) => t.value);
    } catch {
      skipped.push({ name: line.split(/\s+/)[0]!, reason: `line ${index + 1}: an unclosed quote` });
      return;
    }
    const [host, ...pairs] = words;
    if (/[[\]]/.test(host!)) {
      skipped.push({ name: host!, reason: `line ${index + 1}: host ranges are not imported; list the hosts one by one` });
      return;
    }
    const entry = entries.get(host!) ?? { vars: new Map(), groups: new Set<string>(), line: index + 1 };
    for (const pair of pairs) {
      const eq = pair.indexOf("=");
      if (eq > 0) entry.vars.set(pair.slice(0, eq), pair.slice(eq + 1));
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
  /** How far below the top a group is: parents' variables are applied before their children's. */
  const depthOf = (group: string, seen = new Set<string>()): number => {
    let depth = 0;
    for (const [parent, kids] of children) {
      if (kids.has(group) && !seen.has(parent)) depth = Math.max(depth, 1 + depthOf(parent, new Set([...seen, parent])));
    }
    return depth;
  };
  const hosts: ImportedHost[] = [];
  for (const [raw, entry] of entries) {
    const name = importedHostName(raw);
    if (!name) {
      skipped.push({ name: raw, reason: `line ${entry.line}: not a valid testum host name (1-63 of a-z 0-9 - . _)` });
      continue;
    }
    const groups = new Set<string>();
    for (const g of entry.groups) for (const x of [g, ...parentsOf(g)]) groups.add(x);
    const vars = new Map(groupVars.get("all") ?? []);
    const ordered = [...groups].sort((a, b) => depthOf(a) - depthOf(b) || a.localeCompare(b));
    for (const g of ordered) for (const [k, v] of groupVars.get(g) ?? []) vars.set(k, v);
    for (const [k, v] of entry.vars) vars.set(k, v);
    const where = `line ${entry.line}`;
    const port = portOf(vars.get("ansible_port") ?? vars.get("ansible_ssh_port"));
    if (port === "bad") {
      skipped.push({ name, reason: `${where}: ansible_port is not a port number` });
      continue;
    }
    let jump: readonly JumpHop[] | "none" | undefined;
    let problem: string | undefined;
    for (const key of ["ansible_ssh_common_args", "ansible_ssh_extra_args"]) {
      const args = vars.get(key);
      const found = args === undefined ? undefined : jumpFromSshArgs(args);
      if (found !== undefined && typeof found === "object" && "problem" in found) problem ??= `${key}: ${found.problem}`;
      else if (found !== undefined) jump = found;
    }
    if (problem) {
      skipped.push({ name, reason: `${where}: ${problem}` });
      continue;
    }
    const tags: Record<string, string> = {};
    // Each group becomes a tag `GROUP=yes`, so `run web=yes …` selects the group.
    for (const g of groups) {
      const key = g.toLowerCase();
      if (/^[a-z0-9_.-]{1,63}$/.test(key)) tags[key] = "yes";
    }
    hosts.push({
      name,
      address: vars.get("ansible_host") ?? vars.get("ansible_ssh_host") ?? raw,
      port,
      username: vars.get("ansible_user") ?? vars.get("ansible_ssh_user"),
      identityFile: vars.get("ansible_ssh_private_key_file") ?? vars.get("ansible_private_key_file"),
      tags,
      jump,
      source: where,
    });
  }
  return { format: "ansible", hosts, skipped };
}

/** Tells the two formats apart: OpenSSH configs have `Host` or `Match` lines, inventories `[groups]` or bare hosts. */
export function looksLikeOpenSshConfig(text: string): boolean {
  return /^\s*(?:Host|Match)\s+\S/im.test(text);
}
