import type { Principal } from "../access/access.js";
import type { Sql } from "../db.js";
import { listHosts } from "../hosts/hosts.js";
import { parseTemplate } from "./runbook-template.js";
import { listRunbooks, runbookVisible } from "./runbooks.js";

/** Discord: at most 25 choices, each name and value 1–100 characters (interactions/application-commands.mdx). */
const MAX_CHOICES = 25;
const MAX_CHOICE = 100;

/** Names of the runbooks the actor may see, starting with `prefix`. */
export async function completeRunbooks(sql: Sql, principal: Principal, prefix: string): Promise<string[]> {
  const lower = prefix.trim().toLowerCase();
  const hosts = await listHosts(sql);
  return (await listRunbooks(sql))
    .filter((r) => r.name.startsWith(lower) && runbookVisible(principal, hosts, r))
    .map((r) => r.name)
    .slice(0, MAX_CHOICES);
}

/**
 * The `key=value …` text typed so far, completed: the word being typed
 * becomes each parameter not given yet whose name it starts (an enum
 * parameter once per value), or, after `key=`, each of that enum's values
 * it starts.
 */
export async function completeParams(sql: Sql, principal: Principal, runbookName: string, text: string): Promise<string[]> {
  const hosts = await listHosts(sql);
  const runbook = (await listRunbooks(sql)).find((r) => r.name === runbookName.trim().toLowerCase());
  if (!runbook || !runbookVisible(principal, hosts, runbook)) return [];
  const params = parseTemplate(runbook.command).params;
  const words = text.split(/\s+/);
  const typing = words.pop() ?? "";
  const before = words.filter(Boolean);
  const given = new Set(before.map((w) => w.split("=", 1)[0]));
  const lead = before.length ? `${before.join(" ")} ` : "";
  const eq = typing.indexOf("=");
  const choices: string[] = [];
  if (eq !== -1) {
    const key = typing.slice(0, eq);
    const partial = typing.slice(eq + 1);
    const param = params.find((p) => p.name === key);
    if (param?.type.kind === "enum") choices.push(...param.type.values.filter((v) => v.startsWith(partial)).map((v) => `${key}=${v}`));
    else choices.push(typing);
  } else {
    for (const p of params) {
      if (given.has(p.name) || !p.name.startsWith(typing)) continue;
      if (p.type.kind === "enum") choices.push(...p.type.values.map((v) => `${p.name}=${v}`));
      else choices.push(`${p.name}=`);
    }
  }
  return choices
    .map((w) => `${lead}${w}`)
    .filter((choice) => choice.length >= 1 && choice.length <= MAX_CHOICE)
    .slice(0, MAX_CHOICES);
}
