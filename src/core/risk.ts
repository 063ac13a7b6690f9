import type { Sql } from "./db.js";
import { TestumError } from "./errors.js";
import type { Host } from "./hosts.js";

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
    throw new TestumError("invalid_input", `"${pattern}" is not a valid regular expression: ${(err as Error).message}`);
  }
}

export async function listRiskPatterns(sql: Sql): Promise<RiskPattern[]> {
  return sql<RiskPattern[]>`select id, pattern, description, created_by from risk_patterns order by id`;
}

/** Why a run needs approval; empty when it does not. */
export function riskReasons(command: string, hosts: readonly Pick<Host, "name" | "tags">[], patterns: readonly RiskPattern[], settings: RiskSettings): string[] {
  const reasons: string[] = [];
  const normalized = normalizeCommand(command);
  for (const p of patterns) {
    if (compilePattern(p.pattern).test(normalized)) reasons.push(`the command looks risky: ${p.description}`);
  }
  const tagged = hosts.filter((h) => h.tags.approval === "required").map((h) => h.name);
  if (tagged.length > 0) reasons.push(`${tagged.slice(0, 5).join(", ")}${tagged.length > 5 ? ` and ${tagged.length - 5} more` : ""} require${tagged.length === 1 ? "s" : ""} approval for every command (tag approval=required)`);
  if (hosts.length > settings.maxHostsWithoutApproval) {
    reasons.push(`it targets ${hosts.length} hosts (more than ${settings.maxHostsWithoutApproval} need approval)`);
  }
  return reasons;
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
  if (!row) throw new TestumError("invalid_input", `no risk pattern #${id}; /testum risk lists them`);
  return row;
}
