import { PLATFORMS } from "../adapters/platforms.js";
import { identityForms } from "../config.js";
import { listBindings, grant, parseRole, parseSubject, revokeBinding, validateSelector } from "../core/access/access.js";
import { recordAudit, verifyAudit } from "../core/access/audit.js";
import { anchorKey } from "../core/access/audit-anchor.js";
import { addRiskPattern, listRiskPatterns, removeRiskPattern } from "../core/access/risk.js";
import { cliActor, CliUsageError, parseVerbArgs, printTable, withDatabase, type Verb } from "./shared.js";

/** `testum grant|revoke|access`, `testum risk …`, `testum audit verify`. */

function bindingVerb(name: "grant" | "revoke"): Verb {
  const help = `Usage: testum ${name} SUBJECT ROLE [--on SELECTOR]

${name === "grant" ? "Gives" : "Takes back"} a role. SUBJECT is an identity (${PLATFORMS.map((p) => p.identities.person).join(", ")})
or a platform group (${PLATFORMS.flatMap((p) => p.identities.group ?? []).join(", ")}).
ROLE is viewer, operator, free-form, approver or admin. SELECTOR is a host name, tag=value, or * (default).`;
  return {
    name,
    summary: name === "grant" ? "give a role" : "take a role back",
    help,
    async run(args) {
      const { values, positionals } = parseVerbArgs(this, args, { on: { type: "string" } }, 2);
      if (values.help) return void console.log(help);
      if (positionals.length !== 2) throw new CliUsageError("give SUBJECT and ROLE", help);
      const subject = parseSubject(positionals[0]!, identityForms(PLATFORMS));
      const role = parseRole(positionals[1]!);
      const selector = validateSelector(values.on ?? "*");
      return withDatabase(async ({ sql }) => {
        const changed = name === "grant" ? await grant(sql, cliActor(), subject, role, selector) : await revokeBinding(sql, subject, role, selector);
        await recordAudit(sql, {
          actor: cliActor(),
          action: `access.${name}`,
          target: subject,
          outcome: changed ? (name === "grant" ? "granted" : "revoked") : "unchanged",
          detail: { role, scope: selector },
        });
        console.log(changed ? `${subject}: ${name === "grant" ? "now" : "no longer"} ${role} on ${selector}` : `${subject}: unchanged`);
        return changed || name === "grant" ? 0 : 1;
      });
    },
  };
}

const accessVerb: Verb = {
  name: "access",
  summary: "list role bindings",
  help: "Usage: testum access\n\nLists who holds which role, on which hosts (TESTUM_ADMINS are admins on *).",
  async run(args) {
    const { values } = parseVerbArgs(this, args, {});
    if (values.help) return void console.log(this.help);
    await withDatabase(async ({ sql, config }) => {
      const rows = [...config.TESTUM_ADMINS.map((a) => [a, "admin", "*", "TESTUM_ADMINS"]), ...(await listBindings(sql)).map((b) => [b.subject, b.role, b.selector, b.createdBy])];
      printTable(["SUBJECT", "ROLE", "SCOPE", "BY"], rows);
    });
  },
};

const RISK_HELP = `Usage: testum risk [list | add PATTERN DESCRIPTION | rm ID]

The patterns (regular expressions, case-insensitive) that make a command need
approval; quoting and extra spaces are removed before matching.`;

const riskVerb: Verb = {
  name: "risk",
  summary: "the risky-command patterns",
  help: RISK_HELP,
  async run(args) {
    const { values, positionals } = parseVerbArgs(this, args, {}, 3);
    if (values.help) return void console.log(RISK_HELP);
    const [sub = "list", first, second] = positionals;
    return withDatabase(async ({ sql }) => {
      if (sub === "list") {
        printTable(
          ["ID", "DESCRIPTION", "PATTERN"],
          (await listRiskPatterns(sql)).map((p) => [String(p.id), p.description, p.pattern]),
        );
      } else if (sub === "add" && first && second) {
        const p = await addRiskPattern(sql, cliActor(), first, second);
        await recordAudit(sql, { actor: cliActor(), action: "risk.add", target: `#${p.id}`, outcome: "added", detail: { pattern: p.pattern, description: p.description } });
        console.log(`Added #${p.id}: ${p.description}`);
      } else if (sub === "rm" && first && /^\d+$/.test(first)) {
        const p = await removeRiskPattern(sql, Number(first));
        await recordAudit(sql, { actor: cliActor(), action: "risk.remove", target: `#${p.id}`, outcome: "removed", detail: { pattern: p.pattern } });
        console.log(`Removed #${p.id}: ${p.description}`);
      } else throw new CliUsageError(`cannot read "${positionals.join(" ")}"`, RISK_HELP);
      return 0;
    });
  },
};

export const auditVerify: Verb = {
  name: "verify",
  summary: "check the audit log's hash chain",
  help: `Usage: testum audit verify

Recomputes the audit log's hash chain and checks it against its anchors (the
chain's head, signed with a key derived from the master key every few minutes
and at shutdown). Prints OK, or names the first row that was changed, removed
or inserted, rows removed after the last anchor included (exit code 1).`,
  async run(args) {
    const { values } = parseVerbArgs(this, args, {});
    if (values.help) return void console.log(this.help);
    return withDatabase(async ({ sql, config }) => {
      const result = await verifyAudit(sql, anchorKey(config.masterKey));
      if (result.ok) {
        const anchored = result.lastAnchorSeq ? `; anchored up to row ${result.lastAnchorSeq} (${result.anchors} anchors)` : "; no anchor yet";
        console.log(`OK: ${result.rows} audit rows, chain intact${result.unchained ? ` (${result.unchained} older rows predate the chain)` : ""}${anchored}.`);
        return 0;
      }
      console.log(`TAMPERED: ${result.message}`);
      return 1;
    });
  },
};

export const ACCESS_VERBS: readonly Verb[] = [bindingVerb("grant"), bindingVerb("revoke"), accessVerb, riskVerb];
