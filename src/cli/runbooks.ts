import { readFile } from "node:fs/promises";
import { parse, stringify } from "yaml";
import type { Role } from "../core/access/access.js";
import { recordAudits, type AuditEntry } from "../core/access/audit.js";
import { transaction } from "../core/db.js";
import { parseDuration } from "../core/duration.js";
import { english, say } from "../core/chat/i18n.js";
import { runbooksFromDocument, runbooksToDocument } from "../core/runbooks/runbook-file.js";
import { expectation, parseTemplate, typeText } from "../core/runbooks/runbook-template.js";
import { getRunbook, listRunbooks, removeRunbook, saveRunbook, type Runbook, type RunbookApproval } from "../core/runbooks/runbooks.js";
import { cliActor, CliUsageError, parseVerbArgs, printJsonLines, printTable, withDatabase, type Verb } from "./shared.js";

/** `testum runbook …`: the runbooks, and their YAML file for teams that keep them in git. */

const TEMPLATE_HELP = `COMMAND is shell text with typed parameters, each substituted as one quoted
shell word when the runbook runs:
  {name} or {name:str}       text (at most 1000 characters, not starting with -)
  {name:enum(a,b,c)}         one of the values listed
  {name:int} {name:int(1..1000)}  a whole number (in the range)
  {name:path}                a path: letters, digits, / . _ - + @ : , = ~; no .. part
Parameters may not stand inside quotes or (( )) arithmetic, and a command
with a heredoc takes none.`;

function auditOf(r: Runbook, action: "runbook.add" | "runbook.remove", outcome: string): AuditEntry {
  return {
    actor: cliActor(),
    action,
    target: r.target,
    outcome,
    detail: { runbook: r.name, command: r.command, approval: r.approval, role: r.role, description: r.description, timeoutMs: r.timeoutMs },
  };
}

const add: Verb = {
  name: "add",
  summary: "add (or with --replace, replace) a runbook",
  help: `Usage: testum runbook add NAME TARGET 'COMMAND' [--description TEXT] [--role ROLE]
                          [--approval auto|always|reviewed] [--timeout DURATION] [--replace]

Adds a runbook: a command agreed on, that people run by name with
/testum rb NAME key=value …, on the hosts TARGET names then.
  --role       the role on every target host it takes to run it: viewer,
               operator (default), approver or admin
  --approval   auto: the usual rules (risky patterns, hosts tagged
               approval=required, many hosts); always: every run waits for an
               approval; reviewed: the risky patterns are not applied
  --timeout    how long a run may take (default TESTUM_JOB_TIMEOUT)

${TEMPLATE_HELP}`,
  async run(args) {
    const { values, positionals } = parseVerbArgs(
      this,
      args,
      { description: { type: "string" }, role: { type: "string" }, approval: { type: "string" }, timeout: { type: "string" }, replace: { type: "boolean" } },
      3,
    );
    if (values.help) return void console.log(this.help);
    if (positionals.length !== 3) throw new CliUsageError("give NAME, TARGET and 'COMMAND'", this.help);
    const timeoutMs = values.timeout === undefined ? undefined : parseDuration(values.timeout);
    if (values.timeout !== undefined && timeoutMs === undefined) throw new CliUsageError(`--timeout expects a duration such as 30s, 10m or 1h, got "${values.timeout}"`, this.help);
    const [name, target, command] = positionals as [string, string, string];
    await withDatabase(async ({ sql }) => {
      const input = {
        name,
        target,
        command,
        description: values.description,
        role: values.role as Role | undefined,
        approval: values.approval as RunbookApproval | undefined,
        timeoutMs,
      };
      const { runbook, outcome } = await saveRunbook(sql, cliActor(), input, values.replace === true);
      await recordAudits(sql, [auditOf(runbook, "runbook.add", outcome)]);
      console.log(`${outcome === "added" ? "Added" : outcome === "updated" ? "Replaced" : "Unchanged:"} runbook ${runbook.name}.`);
    });
  },
};

const list: Verb = {
  name: "list",
  summary: "list runbooks",
  help: "Usage: testum runbook list [--json]\n\nLists the runbooks: name, target, role, approval, description.",
  async run(args) {
    const { values } = parseVerbArgs(this, args, { json: { type: "boolean" } });
    if (values.help) return void console.log(this.help);
    await withDatabase(async ({ sql }) => {
      const runbooks = await listRunbooks(sql);
      if (values.json) return printJsonLines(runbooksToDocument(runbooks).runbooks);
      printTable(
        ["NAME", "TARGET", "ROLE", "APPROVAL", "DESCRIPTION"],
        runbooks.map((r) => [r.name, r.target, r.role, r.approval, r.description || "-"]),
      );
    });
  },
};

const show: Verb = {
  name: "show",
  summary: "show a runbook and its parameters",
  help: "Usage: testum runbook show NAME\n\nPrints a runbook: its command, parameters with their types, role and approval.",
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 1);
    if (values.help) return void console.log(this.help);
    if (!positionals[0]) throw new CliUsageError("missing NAME", this.help);
    await withDatabase(async ({ sql }) => {
      const r = await getRunbook(sql, positionals[0]!);
      const lines = [
        `name:        ${r.name}`,
        `description: ${r.description || "-"}`,
        `target:      ${r.target}`,
        `command:     ${r.command}`,
        `role:        ${r.role}`,
        `approval:    ${r.approval}`,
      ];
      if (r.timeoutMs !== null) lines.push(`timeout:     ${r.timeoutMs / 1000}s`);
      const params = parseTemplate(r.command).params;
      lines.push(params.length ? "parameters:" : "parameters:  none", ...params.map((p) => `  ${p.name}: ${typeText(p.type)} (${say(english, expectation(p.type))})`));
      console.log(lines.join("\n"));
    });
  },
};

const rm: Verb = {
  name: "rm",
  summary: "remove a runbook",
  help: "Usage: testum runbook rm NAME\n\nRemoves a runbook (refused while a schedule runs it).",
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 1);
    if (values.help) return void console.log(this.help);
    if (!positionals[0]) throw new CliUsageError("missing NAME", this.help);
    await withDatabase(async ({ sql }) => {
      const r = await removeRunbook(sql, positionals[0]!);
      await recordAudits(sql, [auditOf(r, "runbook.remove", "removed")]);
      console.log(`Removed runbook ${r.name}.`);
    });
  },
};

const exportVerb: Verb = {
  name: "export",
  summary: "print runbooks as YAML",
  help: `Usage: testum runbook export [NAME…] > runbooks.yml

Prints the runbooks (all, or those named) as a YAML file that
testum runbook import reads back.`,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 1000);
    if (values.help) return void console.log(this.help);
    await withDatabase(async ({ sql }) => {
      const all = await listRunbooks(sql);
      const wanted = positionals.map((p) => p.toLowerCase());
      const missing = wanted.filter((w) => !all.some((r) => r.name === w));
      if (missing.length > 0) throw new CliUsageError(`no runbook named ${missing.join(", ")}`, this.help);
      const chosen = wanted.length ? all.filter((r) => wanted.includes(r.name)) : all;
      process.stdout.write(`# testum runbooks: testum runbook import FILE reads this back\n${stringify(runbooksToDocument(chosen), { lineWidth: 0 })}`);
    });
  },
};

const importVerb: Verb = {
  name: "import",
  summary: "add and replace runbooks from a YAML file",
  help: `Usage: testum runbook import FILE|- [--prune] [--dry-run]

Reads runbooks from a YAML file (as testum runbook export writes it; - reads
standard input), checks all of them, then adds new ones and replaces changed
ones in one transaction. Nothing is changed when any entry has a problem.
  --prune    also remove runbooks the file does not name
  --dry-run  say what would change, change nothing

The file:
  runbooks:
    - name: restart
      target: role=web
      command: sudo systemctl restart {service:enum(nginx,php-fpm)}
      description: Restart a web service
      role: operator          # viewer, operator, approver, admin
      approval: auto          # auto, always, reviewed
      timeout: 5m             # optional`,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, { prune: { type: "boolean" }, "dry-run": { type: "boolean" } }, 1);
    if (values.help) return void console.log(this.help);
    const file = positionals[0];
    if (!file) throw new CliUsageError("missing FILE", this.help);
    const text = await (file === "-" ? readStdin() : readFile(file, "utf8")).catch((err: NodeJS.ErrnoException) => {
      throw new CliUsageError(`cannot read ${file}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
    });
    let doc: unknown;
    try {
      doc = parse(text, { maxAliasCount: 50 });
    } catch (err) {
      throw new CliUsageError(`${file} is not YAML: ${(err as Error).message}`);
    }
    const inputs = runbooksFromDocument(doc);
    return withDatabase(async ({ sql }) => {
      const dryRun = values["dry-run"] === true;
      const outcomes = await transaction(sql, async (tx) => {
        const done: Array<{ runbook: Runbook; outcome: "added" | "updated" | "unchanged" | "removed" }> = [];
        for (const input of inputs) done.push(await saveRunbook(tx, cliActor(), input, true));
        if (values.prune) {
          const named = new Set(inputs.map((i) => i.name));
          for (const r of await listRunbooks(tx)) if (!named.has(r.name)) done.push({ runbook: await removeRunbook(tx, r.name), outcome: "removed" });
        }
        // A dry run goes as far as the database would, then takes it all back.
        if (dryRun) throw new DryRun(done);
        return done;
      }).catch((err) => {
        if (err instanceof DryRun) return err.outcomes;
        throw err;
      });
      if (!dryRun)
        await recordAudits(
          sql,
          outcomes.filter((o) => o.outcome !== "unchanged").map((o) => auditOf(o.runbook, o.outcome === "removed" ? "runbook.remove" : "runbook.add", o.outcome)),
        );
      const count = (o: string) => outcomes.filter((x) => x.outcome === o).length;
      for (const o of outcomes.filter((x) => x.outcome !== "unchanged")) console.log(`${dryRun ? "would be " : ""}${o.outcome}: ${o.runbook.name}`);
      console.log(
        `${dryRun ? "Dry run, nothing changed: " : ""}${count("added")} added, ${count("updated")} replaced, ${count("unchanged")} unchanged, ${count("removed")} removed.`,
      );
      return 0;
    });
  },
};

class DryRun extends Error {
  constructor(readonly outcomes: Array<{ runbook: Runbook; outcome: "added" | "updated" | "unchanged" | "removed" }>) {
    super("dry run");
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export const RUNBOOK_VERBS: readonly Verb[] = [add, list, show, rm, exportVerb, importVerb];
