import type { Sql } from "./db.js";
import { TestumError } from "./errors.js";
import { msg } from "./i18n.js";
import { listHosts, type Host } from "./hosts.js";

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
  const parts = text.split(",").map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new TestumError("invalid_input", msg("targets.empty"));
  const selector = { all: false, names: [] as string[], globs: [] as string[], tags: [] as Array<[string, string]> };
  for (const part of parts) {
    const tag = TAG.exec(part);
    if (part.toLowerCase() === "all") selector.all = true;
    else if (tag) selector.tags.push([tag[1]!.toLowerCase(), tag[2]!]);
    else if (GLOB.test(part)) {
      if (!/^[a-z0-9._*?[\]!-]{1,63}$/.test(part)) throw new TestumError("invalid_input", msg("targets.bad_pattern", { part }));
      selector.globs.push(part);
    } else if (/^[a-z0-9._-]{1,63}$/.test(part)) selector.names.push(part);
    else throw new TestumError("invalid_input", msg("targets.bad_part", { part }));
  }
  return selector;
}

export function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === "*") source += ".*";
    else if (ch === "?") source += ".";
    else if (ch === "[") {
      const close = glob.indexOf("]", i + 1);
      if (close === -1) throw new TestumError("invalid_input", msg("targets.unclosed_bracket", { glob }));
      const inner = glob.slice(i + 1, close).replace(/^!/, "^").replace(/\\/g, "\\\\");
      source += `[${inner}]`;
      i = close;
    } else source += ch.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/** The hosts a selector names, in name order. Throws when a name is unknown or nothing matches. */
export function selectHosts(hosts: readonly Host[], selector: TargetSelector, text: string): Host[] {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  for (const name of selector.names) {
    if (!byName.has(name)) throw new TestumError("unknown_host", msg("hosts.unknown", { name }));
  }
  const patterns = selector.globs.map(globToRegExp);
  const named = selector.all || (selector.names.length === 0 && patterns.length === 0);
  const picked = hosts.filter(
    (h) =>
      (named || selector.names.includes(h.name) || patterns.some((p) => p.test(h.name))) &&
      selector.tags.every(([k, v]) => h.tags[k] === v),
  );
  if (picked.length === 0) throw new TestumError("unknown_host", msg("targets.no_match", { target: text }));
  return picked.sort((a, b) => a.name.localeCompare(b.name));
}

export async function resolveTarget(sql: Sql, text: string): Promise<Host[]> {
  return selectHosts(await listHosts(sql), parseTarget(text), text);
}
