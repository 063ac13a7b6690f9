import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionContextType,
  type APIApplicationCommandBasicOption,
  type APIApplicationCommandSubcommandGroupOption,
  type APIApplicationCommandSubcommandOption,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from "discord-api-types/v10";
import { COMMAND_SPECS } from "../../core/commands/commands.js";
import type { ArgSpec, CommandSpec, Completion, FlagSpec } from "../../core/commands/grammar.js";
import { truncate } from "../../core/jobs/tail.js";

/**
 * The one `/testum` application command, derived from core's command specs:
 * a spec path of one word is a subcommand, of two words a subcommand group
 * and a subcommand. Limits (interactions/application-commands.mdx): names
 * match `^[-_\p{L}\p{N}]{1,32}$` in lower case, descriptions are 1–100
 * characters, ≤ 25 options per level, required options before optional ones,
 * ≤ 4,000 characters of names and descriptions in all.
 */
export const COMMAND_NAME = "testum";
const DESCRIPTION = "Run commands on your hosts, with live output, full logs and an audit trail";
const NAME = /^[-_\p{L}\p{N}]{1,32}$/u;
const MAX_DESCRIPTION = 100;
const MAX_OPTIONS = 25;
/** Names and descriptions of a command and all its options together. */
const MAX_TOTAL_CHARS = 4000;
/** String options hold at most 6,000 characters. */
const MAX_STRING = 6000;

type Spec = CommandSpec<unknown>;
type Subcommand = APIApplicationCommandSubcommandOption;
type Group = APIApplicationCommandSubcommandGroupOption;

function name(word: string): string {
  if (!NAME.test(word) || word !== word.toLowerCase()) {
    throw new Error(`"${word}" cannot be a Discord command or option name (lower case letters, digits, - and _; at most 32)`);
  }
  return word;
}

const describe = (text: string, fallback: string, max = MAX_DESCRIPTION) => truncate(text.trim(), max) || fallback;

/**
 * How long descriptions may be. testum has more subcommands than fit in
 * Discord's 4,000 characters with full descriptions, so option descriptions
 * are shortened first, then subcommand ones, until the whole command fits.
 */
interface Lengths {
  readonly option: number;
  readonly subcommand: number;
}

const LENGTHS: readonly Lengths[] = [
  { option: 100, subcommand: 100 },
  { option: 60, subcommand: 100 },
  { option: 40, subcommand: 80 },
  { option: 28, subcommand: 60 },
  { option: 20, subcommand: 45 },
  { option: 14, subcommand: 35 },
  { option: 12, subcommand: 30 },
];

function argOption(arg: ArgSpec, lengths: Lengths): APIApplicationCommandBasicOption {
  const base = { name: name(arg.name), description: describe(arg.description, arg.name, lengths.option), required: !arg.optional };
  if (arg.kind === "int") return { ...base, type: ApplicationCommandOptionType.Integer };
  // A user or a role, picked from the server: parse.ts turns it into an identity.
  if (arg.kind === "subject") return { ...base, type: ApplicationCommandOptionType.Mentionable };
  return {
    ...base,
    type: ApplicationCommandOptionType.String,
    ...(arg.complete ? { autocomplete: true } : {}),
    ...(arg.kind === "rest" || arg.kind === "list" || arg.kind === "pairs" ? { max_length: MAX_STRING } : {}),
  };
}

function flagOption(flag: FlagSpec, lengths: Lengths): APIApplicationCommandBasicOption {
  const base = { name: name(flag.name), description: describe(flag.description, flag.name, lengths.option), required: false };
  switch (flag.kind) {
    case "boolean":
      return { ...base, type: ApplicationCommandOptionType.Boolean };
    case "int":
      return {
        ...base,
        type: ApplicationCommandOptionType.Integer,
        ...(flag.min !== undefined ? { min_value: flag.min } : {}),
        ...(flag.max !== undefined ? { max_value: flag.max } : {}),
      };
    case "duration":
      return { ...base, type: ApplicationCommandOptionType.String };
    case "word":
      // At most 25 choices (interactions/application-commands.mdx).
      return { ...base, type: ApplicationCommandOptionType.String, ...(flag.choices ? { choices: flag.choices.slice(0, 25).map((c) => ({ name: c, value: c })) } : {}) };
  }
}

function subcommand(word: string, spec: Spec, lengths: Lengths): Subcommand {
  const args = [...spec.args.filter((a) => !a.optional), ...spec.args.filter((a) => a.optional)].map((a) => argOption(a, lengths));
  const options = [...args, ...(spec.flags ?? []).map((f) => flagOption(f, lengths))];
  if (options.length > MAX_OPTIONS) throw new Error(`/testum ${spec.path.join(" ")} has more than ${MAX_OPTIONS} options`);
  return {
    type: ApplicationCommandOptionType.Subcommand,
    name: name(word),
    description: describe(spec.summary, word, lengths.subcommand),
    ...(options.length > 0 ? { options } : {}),
  };
}

/** Builds the `/testum` command for a bulk overwrite; the same specs always give the same JSON. */
export function buildDiscordCommand(specs: readonly Spec[] = COMMAND_SPECS): RESTPostAPIChatInputApplicationCommandsJSONBody {
  let size = 0;
  for (const lengths of LENGTHS) {
    const options = buildOptions(specs, lengths);
    size = COMMAND_NAME.length + DESCRIPTION.length + textSize(options);
    if (size <= MAX_TOTAL_CHARS) {
      return {
        type: ApplicationCommandType.ChatInput,
        name: COMMAND_NAME,
        description: DESCRIPTION,
        // Guild installs in server channels only: DMs carry no guild to check access against.
        contexts: [InteractionContextType.Guild],
        integration_types: [ApplicationIntegrationType.GuildInstall],
        options,
      };
    }
  }
  throw new Error(`/testum has ${size} characters of names and descriptions even with short descriptions; Discord allows ${MAX_TOTAL_CHARS}`);
}

function buildOptions(specs: readonly Spec[], lengths: Lengths): Array<Subcommand | Group> {
  const options: Array<Subcommand | Group> = [];
  const groups = new Map<string, { group: Group; summaries: string[] }>();
  for (const spec of specs) {
    const [first, second, ...more] = spec.path;
    if (first === undefined || more.length > 0) throw new Error(`Discord commands nest two words deep at most: ${spec.path.join(" ")}`);
    if (second === undefined) {
      options.push(subcommand(first, spec, lengths));
      continue;
    }
    let entry = groups.get(first);
    if (!entry) {
      entry = { group: { type: ApplicationCommandOptionType.SubcommandGroup, name: name(first), description: first, options: [] }, summaries: [] };
      groups.set(first, entry);
      options.push(entry.group);
    }
    entry.group.options!.push(subcommand(second, spec, lengths));
    entry.summaries.push(spec.summary);
  }
  for (const { group, summaries } of groups.values()) {
    group.description = describe(summaries.length === 1 ? summaries[0]! : `${group.name}: ${group.options!.map((o) => o.name).join(", ")}`, group.name, lengths.subcommand);
  }
  if (options.length > MAX_OPTIONS) throw new Error(`/testum has more than ${MAX_OPTIONS} subcommands and groups`);
  return options;
}

function textSize(options: ReadonlyArray<{ name: string; description: string; options?: ReadonlyArray<unknown> }> | undefined): number {
  let n = 0;
  for (const o of options ?? []) n += o.name.length + o.description.length + textSize(o.options as typeof options);
  return n;
}

/** Which registry an option's autocomplete draws on, if any. */
export function completionFor(path: readonly string[], option: string): Completion | undefined {
  const spec = COMMAND_SPECS.find((s) => s.path.length === path.length && s.path.every((w, i) => w === path[i]));
  return spec?.args.find((a) => a.name === option)?.complete;
}
