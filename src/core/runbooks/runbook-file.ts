import { z } from "zod";
import type { Role } from "../access/access.js";
import { parseDuration } from "../duration.js";
import { TestumError } from "../errors.js";
import { RUNBOOK_APPROVALS, RUNBOOK_ROLES, validateRunbook, type Runbook, type RunbookInput } from "./runbooks.js";

/**
 * Runbooks as a document that teams keep in git (the CLI writes and reads it
 * as YAML): `{ runbooks: [{ name, target, command, description, role,
 * approval, timeout }] }`. Reading checks every entry and names each
 * problem by its place in the file.
 */
export const RUNBOOK_FILE_VERSION = 1;

const entry = z
  .object({
    name: z.string(),
    target: z.string(),
    command: z.string(),
    description: z.string().optional(),
    role: z.enum(RUNBOOK_ROLES as [Role, ...Role[]]).optional(),
    approval: z.enum(RUNBOOK_APPROVALS as ["auto", "always", "reviewed"]).optional(),
    timeout: z.string().optional(),
  })
  .strict();

const document = z.object({ version: z.literal(RUNBOOK_FILE_VERSION).optional(), runbooks: z.array(entry) }).strict();

/** The runbooks a document defines; throws a TestumError listing every problem, each with its place. */
export function runbooksFromDocument(doc: unknown): RunbookInput[] {
  const parsed = document.safeParse(doc);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) =>
        `${
          i.path.length
            ? i.path
                .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
                .join("")
                .replace(/^\./, "")
            : "the file"
        }: ${i.message}`,
    );
    throw new TestumError("invalid_input", `not a runbook file:\n  ${problems.join("\n  ")}`);
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  const inputs: RunbookInput[] = [];
  parsed.data.runbooks.forEach((r, i) => {
    const where = `runbooks[${i}] (${r.name})`;
    const timeoutMs = r.timeout === undefined ? undefined : parseDuration(r.timeout);
    if (r.timeout !== undefined && timeoutMs === undefined) problems.push(`${where}: timeout "${r.timeout}" is not a duration such as 30s, 10m or 1h`);
    if (seen.has(r.name)) problems.push(`${where}: the name is used twice`);
    seen.add(r.name);
    const input: RunbookInput = { name: r.name, target: r.target, command: r.command, description: r.description, role: r.role, approval: r.approval, timeoutMs };
    try {
      validateRunbook(input);
      inputs.push(input);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  });
  if (problems.length > 0) throw new TestumError("invalid_input", `the runbook file has ${problems.length} problem(s), nothing was changed:\n  ${problems.join("\n  ")}`);
  return inputs;
}

/** The document for these runbooks (defaults written out, so a file says everything). */
export function runbooksToDocument(runbooks: readonly Runbook[]): { version: number; runbooks: Array<Record<string, string>> } {
  return {
    version: RUNBOOK_FILE_VERSION,
    runbooks: runbooks.map((r) => ({
      name: r.name,
      target: r.target,
      command: r.command,
      ...(r.description ? { description: r.description } : {}),
      role: r.role,
      approval: r.approval,
      ...(r.timeoutMs !== null ? { timeout: exactDuration(r.timeoutMs) } : {}),
    })),
  };
}

/** A duration that parseDuration reads back exactly: the largest unit that divides it (`5m`, `90s`, `1500ms`). */
function exactDuration(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
