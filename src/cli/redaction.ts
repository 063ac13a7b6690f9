import { recordAudit } from "../core/access/audit.js";
import { BUILTIN_DETECTORS } from "../core/jobs/redact.js";
import { addRedactionPattern, listRedactionPatterns, removeRedactionPattern } from "../core/jobs/redaction-patterns.js";
import { cliActor, CliUsageError, parseVerbArgs, printTable, withDatabase, type Verb } from "./shared.js";

const HELP = `Usage: testum redact [list | add NAME PATTERN | rm NAME]

What command output hides before it reaches chat, logs, reports and job pages:
the built-in detectors (${BUILTIN_DETECTORS.map((d) => d.name).join(", ")}),
each host's own password or key passphrase, and the patterns added here.
PATTERN is a regular expression (case-sensitive, within one line, ASCII, at
most 300 characters, no nested repetition); a match shows as [redacted:NAME].
Jobs that start after a change use it.`;

/** `testum redact …`: the same patterns as `/testum redact`, audited the same way. */
export const redactVerb: Verb = {
  name: "redact",
  summary: "patterns hidden in command output",
  help: HELP,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 3);
    if (values.help) return void console.log(HELP);
    const [sub = "list", name, pattern] = positionals;
    return withDatabase(async ({ sql }) => {
      if (sub === "list") {
        printTable(
          ["NAME", "PATTERN", "BY"],
          [...BUILTIN_DETECTORS.map((d) => [d.name, "(built in)", "testum"]), ...(await listRedactionPatterns(sql)).map((p) => [p.name, p.pattern, p.createdBy])],
        );
      } else if (sub === "add" && name && pattern) {
        const p = await addRedactionPattern(sql, cliActor(), name, pattern);
        await recordAudit(sql, { actor: cliActor(), action: "redaction.add", target: p.name, outcome: "added", detail: { pattern: p.pattern } });
        console.log(`Added ${p.name}: output matching ${p.pattern} shows as [redacted:${p.name}] from the next job on.`);
      } else if (sub === "rm" && name && !pattern) {
        const p = await removeRedactionPattern(sql, name);
        await recordAudit(sql, { actor: cliActor(), action: "redaction.remove", target: p.name, outcome: "removed", detail: { pattern: p.pattern } });
        console.log(`Removed ${p.name} (${p.pattern}).`);
      } else throw new CliUsageError(`cannot read "${positionals.join(" ")}"`, HELP);
      return 0;
    });
  },
};
