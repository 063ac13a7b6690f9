import type { Sql } from "../db.js";
import { TestumError } from "../errors.js";
import { msg } from "../chat/i18n.js";
import { hostsNamed, hostsTagged, listHosts, type Host } from "./hosts.js";

/**
 * Target selectors: `web1`, `web1,web2`, globs `web-*`, tags `role=web`,
 * several tags (they intersect: `role=web,env=prod`), and `all`. Names and
 * globs add hosts; tags narrow them down.
 */
export interface TargetSelector {
  readonly all: boolean;
  readonly names: readonly string[];
  readonly globs: readonly string[];
  readonly tags: ReadonlyArray<readonly [string, string]>;
}

const TAG = /^([a-z0-9_.-]{1,63})=(\S{0,200})$/i;
const GLOB = /[*?[]/;

export function parseTarget(text: string): TargetSelector {
  const parts = text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new TestumError("invalid_input", msg("targets.empty"));
  const selector = { all: false, names: [] as string[], globs: [] as string[], tags: [] as Array<[string, string]> };
  for (const part of parts) {
    const tag = TAG.exec(part);
    if (part.toLowerCase() === "all") selector.all = true;
    else if (tag) selector.tags.push([tag[1]!.toLowerCase(), tag[2]!]);
    else if (GLOB.test(part)) {
      if (!/^[a-z0-9._*?[\]!-]{1,63}$/.test(part)) throw new TestumError("invalid_input", msg("targets.bad_pattern", { part }));
      parseGlob(part); // says what is wrong with it now, before any host is looked at
      selector.globs.push(part);
    } else if (/^[a-z0-9._-]{1,63}$/.test(part)) selector.names.push(part);
    else throw new TestumError("invalid_input", msg("targets.bad_part", { part }));
  }
  return selector;
}

/** One position of a glob: any run of characters, any one character, a set, or a literal. */
type GlobPart =
  | { readonly kind: "star" }
  | { readonly kind: "one" }
  | { readonly kind: "set"; readonly negated: boolean; readonly ranges: ReadonlyArray<readonly [string, string]> }
  | { readonly kind: "char"; readonly ch: string };

/** Parses a glob (`*`, `?`, `[abc]`, `[a-z]`, `[!x]`), naming what is wrong with it. */
export function parseGlob(glob: string): GlobPart[] {
  const parts: GlobPart[] = [];
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === "*") {
      if (parts.at(-1)?.kind !== "star") parts.push({ kind: "star" });
    } else if (ch === "?") parts.push({ kind: "one" });
    else if (ch === "[") {
      const close = glob.indexOf("]", i + 1);
      if (close === -1) throw new TestumError("invalid_input", msg("targets.unclosed_bracket", { glob }));
      let inner = glob.slice(i + 1, close);
      const negated = inner.startsWith("!");
      if (negated) inner = inner.slice(1);
      const ranges: Array<[string, string]> = [];
      for (let j = 0; j < inner.length; j++) {
        if (inner[j + 1] === "-" && j + 2 < inner.length) {
          const [from, to] = [inner[j]!, inner[j + 2]!];
          if (from > to) throw new TestumError("invalid_input", msg("targets.bad_range", { range: `[${from}-${to}]`, glob }));
          ranges.push([from, to]);
          j += 2;
        } else ranges.push([inner[j]!, inner[j]!]);
      }
      parts.push({ kind: "set", negated, ranges });
      i = close;
    } else parts.push({ kind: "char", ch });
  }
  return parts;
}

function matchesOne(part: GlobPart, ch: string): boolean {
  switch (part.kind) {
    case "one":
      return true;
    case "char":
      return part.ch === ch;
    case "set":
      return part.ranges.some(([from, to]) => ch >= from && ch <= to) !== part.negated;
    case "star":
      return false;
  }
}

/**
 * Whether `name` matches the glob. Greedy with one backtrack point (the last
 * star): at most length(name) × length(glob) steps, whatever the glob, so no
 * pattern can stall the process the way a backtracking regex can.
 */
export function globMatch(parts: readonly GlobPart[], name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    const part = parts[p];
    if (part?.kind === "star") {
      star = p++;
      resume = n;
    } else if (part && matchesOne(part, name[n]!)) {
      p++;
      n++;
    } else if (star !== -1) {
      p = star + 1;
      n = ++resume;
    } else return false;
  }
  while (parts[p]?.kind === "star") p++;
  return p === parts.length;
}

/** The hosts a selector names, in name order. Throws when a name is unknown or nothing matches. */
export function selectHosts(hosts: readonly Host[], selector: TargetSelector, text: string): Host[] {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  for (const name of selector.names) {
    if (!byName.has(name)) throw new TestumError("unknown_host", msg("hosts.unknown", { name }));
  }
  const patterns = selector.globs.map(parseGlob);
  const named = selector.all || (selector.names.length === 0 && patterns.length === 0);
  const picked = hosts.filter((h) => (named || selector.names.includes(h.name) || patterns.some((p) => globMatch(p, h.name))) && selector.tags.every(([k, v]) => h.tags[k] === v));
  if (picked.length === 0) throw new TestumError("unknown_host", msg("targets.no_match", { target: text }));
  return picked.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The hosts a target names now. Only the rows it can pick from are read: the
 * named hosts when it names them (tags then narrow those), the tagged ones
 * when tags alone select; every host only for globs and `all`. A fleet's
 * whole table is not read (and parsed) for every `run web-01 …`.
 */
export async function resolveTarget(sql: Sql, text: string): Promise<Host[]> {
  const selector = parseTarget(text);
  const widens = selector.all || selector.globs.length > 0;
  const rows = widens ? await listHosts(sql) : selector.names.length > 0 ? await hostsNamed(sql, selector.names) : await hostsTagged(sql, selector.tags);
  return selectHosts(rows, selector, text);
}
