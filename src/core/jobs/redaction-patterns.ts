import type { Sql } from "../db.js";
import { TestumError } from "../errors.js";
import { msg } from "../chat/i18n.js";
import type { Logger } from "../ports.js";
import { checkRedactionPattern, type RedactionPattern } from "./redact.js";

/** The redaction patterns admins added (`/testum redact …`, `testum redact …`): stored, listed, removed. */

export interface StoredRedactionPattern extends RedactionPattern {
  readonly createdBy: string;
  readonly createdAt: Date;
}

export async function listRedactionPatterns(sql: Sql): Promise<StoredRedactionPattern[]> {
  return sql<StoredRedactionPattern[]>`select name, pattern, created_by, created_at from redaction_patterns order by name`;
}

/** Adds a pattern after checking it (see checkRedactionPattern); a name is used once. */
export async function addRedactionPattern(sql: Sql, by: string, name: string, pattern: string): Promise<StoredRedactionPattern> {
  checkRedactionPattern(name, pattern);
  const [row] = await sql<StoredRedactionPattern[]>`
    insert into redaction_patterns (name, pattern, created_by) values (${name}, ${pattern}, ${by})
    on conflict (name) do nothing
    returning name, pattern, created_by, created_at`;
  if (!row) throw new TestumError("conflict", msg("redact.exists", { name }));
  return row;
}

export async function removeRedactionPattern(sql: Sql, name: string): Promise<StoredRedactionPattern> {
  const [row] = await sql<StoredRedactionPattern[]>`delete from redaction_patterns where name = ${name} returning name, pattern, created_by, created_at`;
  if (!row) throw new TestumError("invalid_input", msg("redact.unknown", { name }));
  return row;
}

/**
 * The patterns a job runs with, read when it starts. One that no longer
 * passes the checks (written by hand, or by an older testum) is left out
 * and logged, so it cannot stop jobs from running.
 */
export async function patternsForJobs(sql: Sql, log: Logger): Promise<RedactionPattern[]> {
  const rows = await listRedactionPatterns(sql);
  return rows.filter((p) => {
    try {
      checkRedactionPattern(p.name, p.pattern);
      return true;
    } catch (err) {
      log.error({ err, pattern: p.name }, "a stored redaction pattern is not usable; it is skipped");
      return false;
    }
  });
}
