import type { Block, View } from "../chat/chat.js";
import { COMMAND_SPECS, type Spec } from "./command-specs.js";
import { UsageError } from "../errors.js";
import { describeArg, localUsage, shortUsageOf, usageOf } from "./grammar.js";
import { english, msg, type MessageKey, type Translator } from "../chat/i18n.js";
import { listing, LISTING_WIDTH } from "../chat/replies.js";

/** The groups help shows, each with the first words of its commands and an example or two. */
export const HELP_GROUPS: ReadonlyArray<{ readonly name: string; readonly title: MessageKey; readonly words: readonly string[]; readonly examples: readonly string[] }> = [
  {
    name: "run",
    title: "help.group.run",
    words: ["run", "script", "cancel", "jobs", "logs"],
    examples: ["/testum run web-1 'df -h'", "/testum run role=web --parallel 20 'systemctl is-active nginx'"],
  },
  { name: "hosts", title: "help.group.hosts", words: ["hosts", "identity"], examples: ["/testum hosts add web-1 root@10.0.0.5", "/testum hosts test web-1"] },
  { name: "keys", title: "help.group.keys", words: ["keys"], examples: ["/testum keys deploy alice all"] },
  {
    name: "access",
    title: "help.group.access",
    words: ["grant", "revoke", "access", "whoami", "approve", "reject", "audit", "risk", "redact"],
    examples: ["/testum grant @bob operator role=web"],
  },
  { name: "schedules", title: "help.group.schedules", words: ["schedule"], examples: ["/testum schedule add '0 9 * * 1-5' all 'df -h' --on-change"] },
];

const summaryOf = (s: Spec, t: Translator) => (s.summaryKey ? t(s.summaryKey) : s.summary);

/** The commands a help topic names: a group (run, hosts, keys, access, schedules), a command, or a command and its verb. */
function specsOf(topic: string): readonly Spec[] {
  const words = topic.toLowerCase().split(/\s+/).filter(Boolean);
  const group = words.length === 1 ? HELP_GROUPS.find((g) => g.name === words[0] || (words[0] === "schedule" && g.name === "schedules")) : undefined;
  if (group) return COMMAND_SPECS.filter((s) => group.words.includes(s.path[0]!));
  return COMMAND_SPECS.filter((s) => words.every((w, i) => s.path[i] === w));
}

/** `/testum help`: the commands by group, one line each, with examples. */
function overview(t: Translator): View {
  const blocks: Block[] = [{ type: "heading", text: t("help.title") }];
  for (const group of HELP_GROUPS) {
    const specs = COMMAND_SPECS.filter((s) => group.words.includes(s.path[0]!));
    blocks.push({ type: "heading", text: t(group.title) });
    blocks.push({ type: "text", text: specs.map((s) => `${localUsage(shortUsageOf(s), t)} — ${summaryOf(s, t)}`).join("\n") });
    blocks.push({ type: "context", text: group.examples.map((e) => t("help.example", { example: e })).join("\n") });
  }
  blocks.push({ type: "context", text: t("help.more") });
  return { text: t("help.title"), blocks };
}

/** Every command of a topic with its arguments, options and example. */
export function helpLines(topic: string, t: Translator = english): string[] {
  const specs = specsOf(topic);
  if (specs.length === 0) throw new UsageError(msg("help.unknown_topic", { topic }));
  return specs.flatMap((s) => {
    const lines = [`${localUsage(usageOf(s), t)}  ${summaryOf(s, t)}`];
    for (const a of s.args) lines.push(`  ${localUsage(a.name.toUpperCase(), t)}: ${describeArg(a, t)}`);
    for (const f of s.flags ?? []) lines.push(`  --${f.name}: ${describeArg(f, t)}`);
    if (s.example) lines.push(`  ${t("help.example", { example: s.example })}`);
    return lines;
  });
}

/** Help as chat shows it: the grouped overview, or the detail of one topic. */
export function helpView(topic: string | undefined, t: Translator = english): View {
  if (!topic) return overview(t);
  // A usage line too long for a message puts its summary on a line of its own, so the summary is never cut in two.
  const lines = helpLines(topic, t).flatMap((line) => {
    const gap = line.startsWith("/testum ") ? line.lastIndexOf("  ") : -1;
    return gap > 0 && line.length > LISTING_WIDTH ? [line.slice(0, gap), `    ${line.slice(gap + 2)}`] : [line];
  });
  return listing(t("help.title_topic", { topic }), lines, undefined, { wrap: true });
}
