import type { Sql } from "./db.js";
import { TestumError } from "./errors.js";
import type { Host } from "./hosts.js";
import { english, msg, say, type Message, type Translator } from "./i18n.js";

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

/** Why a run needs approval; empty when it does not. */
export function riskMessages(command: string, hosts: readonly Pick<Host, "name" | "tags">[], patterns: readonly RiskPattern[], settings: RiskSettings): Message[] {
  const reasons: Message[] = [];
  const normalized = normalizeCommand(command);
  for (const p of patterns) {
    if (compilePattern(p.pattern).test(normalized)) reasons.push(msg("risk.pattern", { description: p.description }));
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
export function riskReasons(command: string, hosts: readonly Pick<Host, "name" | "tags">[], patterns: readonly RiskPattern[], settings: RiskSettings, t: Translator = english): string[] {
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
