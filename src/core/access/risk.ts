import type { Sql } from "../db.js";
import { TestumError } from "../errors.js";
import type { Host } from "../hosts/hosts.js";
import { english, msg, say, type Message, type MessageKey, type Param, type Translator } from "../chat/i18n.js";

/**
 * The risk policy: when a run needs an approval first.
 */
export interface RiskPattern {
  readonly id: number;
  readonly pattern: string;
  readonly description: string;
  readonly createdBy: string;
}

export interface RiskSettings {
  /** More target hosts than this need approval. */
  readonly maxHostsWithoutApproval: number;
}

/**
 * The command as a shell would see its words: quotes and backslashes gone,
 * whitespace collapsed. `r''m -r"f"` and `rm   -rf` both read `rm -rf`.
 */
export function normalizeCommand(command: string): string {
  return command
    .replace(/\$'([^']*)'/g, "$1")
    .replace(/["'`\\]/g, "")
    .replace(/\$\{?IFS\}?/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

export function compilePattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern, "i");
  } catch (err) {
    throw new TestumError("invalid_input", msg("risk.bad_regex", { pattern, problem: (err as Error).message }));
  }
}

export async function listRiskPatterns(sql: Sql): Promise<RiskPattern[]> {
  return sql<RiskPattern[]>`select id, pattern, description, created_by from risk_patterns order by id`;
}

/**
 * The patterns testum seeds (migration 00004), by the description it gave
 * them: said in the reader's language. Patterns an admin adds keep the words
 * they were given.
 */
const BUILTIN_DESCRIPTIONS: Readonly<Record<string, MessageKey>> = {
  "recursive rm": "risk.builtin.recursive_rm",
  "mkfs (makes a filesystem)": "risk.builtin.mkfs",
  "dd to a device": "risk.builtin.dd",
  "shutdown, reboot, halt or poweroff": "risk.builtin.shutdown",
  "systemctl stop, restart or disable": "risk.builtin.systemctl",
  "kill -9": "risk.builtin.kill9",
  "iptables -F (flush firewall rules)": "risk.builtin.iptables",
  "SQL DROP or TRUNCATE": "risk.builtin.sql_drop",
  "write to a disk device (/dev/sd*)": "risk.builtin.disk_write",
  "recursive chmod or chown": "risk.builtin.recursive_chmod",
};

/** What a pattern catches, in words: a built-in one in the reader's language, an admin's as written. */
export function describeRisk(p: Pick<RiskPattern, "description" | "createdBy">): Param {
  const key = p.createdBy === "testum" ? BUILTIN_DESCRIPTIONS[p.description] : undefined;
  return key ? msg(key) : p.description;
}

/** Why a run needs approval; empty when it does not. */
export function riskMessages(command: string, hosts: readonly Pick<Host, "name" | "tags">[], patterns: readonly RiskPattern[], settings: RiskSettings): Message[] {
  const reasons: Message[] = [];
  const normalized = normalizeCommand(command);
  for (const p of patterns) {
    if (compilePattern(p.pattern).test(normalized)) reasons.push(msg("risk.pattern", { description: describeRisk(p) }));
  }
  const tagged = hosts.filter((h) => h.tags.approval === "required").map((h) => h.name);
  if (tagged.length > 0) {
    const names = tagged.length > 5 ? msg("list.and_more", { items: tagged.slice(0, 5), count: tagged.length - 5 }) : tagged.join(", ");
    reasons.push(msg("risk.tagged", { hosts: names, count: tagged.length }));
  }
  if (hosts.length > settings.maxHostsWithoutApproval) {
    reasons.push(msg("risk.many_hosts", { count: hosts.length, max: settings.maxHostsWithoutApproval }));
  }
  return reasons;
}

/** The reasons, said in the language of `t`. */
export function riskReasons(
  command: string,
  hosts: readonly Pick<Host, "name" | "tags">[],
  patterns: readonly RiskPattern[],
  settings: RiskSettings,
  t: Translator = english,
): string[] {
  return riskMessages(command, hosts, patterns, settings).map((m) => say(t, m));
}

export async function addRiskPattern(sql: Sql, by: string, pattern: string, description: string): Promise<RiskPattern> {
  compilePattern(pattern);
  const [row] = await sql<RiskPattern[]>`
    insert into risk_patterns (pattern, description, created_by) values (${pattern}, ${description}, ${by})
    on conflict (pattern) do update set description = excluded.description
    returning id, pattern, description, created_by`;
  return row!;
}

export async function removeRiskPattern(sql: Sql, id: number): Promise<RiskPattern> {
  const [row] = await sql<RiskPattern[]>`delete from risk_patterns where id = ${id} returning id, pattern, description, created_by`;
  if (!row) throw new TestumError("invalid_input", msg("risk.unknown", { id }));
  return row;
}
