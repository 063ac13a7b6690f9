import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionType,
  type APIApplicationCommandInteractionDataOption,
  type APIInteraction,
} from "discord-api-types/v10";
import type { Actor, Inbound, View } from "../../core/chat/chat.js";
import type { Completion } from "../../core/commands/grammar.js";
import type { Message } from "../../core/chat/i18n.js";
import { completionFor } from "./commands.js";
import { discordIdentity, discordRoleIdentity, encodeConversation, encodeMessage } from "./refs.js";
import { DISCORD_TEXT } from "./strings.js";

/**
 * Interaction payloads (interactions/receiving-and-responding.mdx) → core
 * events. Only guild members are actors: a DM carries `user` and no
 * `member`, hence no guild to grant access in, and is refused.
 */
export type ParsedInteraction =
  | { readonly kind: "ping" }
  /** Not something testum acts on; `reason` is said privately, in the user's language. */
  | { readonly kind: "refused"; readonly reason: Message }
  | {
      readonly kind: "complete";
      readonly actor: Actor;
      readonly complete: Completion | undefined;
      readonly prefix: string;
      /** The other options typed so far (a runbook's parameters complete against the runbook named). */
      readonly options: Readonly<Record<string, string | number | boolean>>;
    }
  | { readonly kind: "inbound"; readonly event: Inbound; readonly hasMessage: boolean };

export const DM_REFUSAL = DISCORD_TEXT.msg("adapter.discord.dm_refusal");
export const NOT_INSTALLED = DISCORD_TEXT.msg("adapter.discord.not_installed");

type Value = string | number | boolean;

interface CommandOptions {
  readonly path: string[];
  readonly options: Record<string, Value>;
  readonly focused?: { readonly name: string; readonly value: string };
  /** Options that name a user or a role by id. */
  readonly mentionables: readonly string[];
}

/** Unwraps subcommand groups and subcommands into a command path and its options. */
export function commandOptions(top: readonly APIApplicationCommandInteractionDataOption[] | undefined): CommandOptions {
  const path: string[] = [];
  let level = top ?? [];
  const group = level[0];
  if (group?.type === ApplicationCommandOptionType.SubcommandGroup) {
    path.push(group.name);
    level = group.options ?? [];
  }
  const sub = level[0];
  if (sub?.type === ApplicationCommandOptionType.Subcommand) {
    path.push(sub.name);
    level = sub.options ?? [];
  }
  const options: Record<string, Value> = {};
  const mentionables: string[] = [];
  let focused: CommandOptions["focused"];
  for (const option of level) {
    if (!("value" in option)) continue;
    options[option.name] = option.value;
    if (option.type === ApplicationCommandOptionType.Mentionable || option.type === ApplicationCommandOptionType.User || option.type === ApplicationCommandOptionType.Role) {
      mentionables.push(option.name);
    }
    if ("focused" in option && option.focused) focused = { name: option.name, value: String(option.value) };
  }
  return focused ? { path, options, focused, mentionables } : { path, options, mentionables };
}

/** The values of a submitted modal, by text input custom_id (in action rows or labels). */
export function modalValues(components: unknown): Record<string, string> {
  const values: Record<string, string> = {};
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== "object") return;
    const c = node as { custom_id?: unknown; value?: unknown; components?: unknown; component?: unknown };
    if (typeof c.custom_id === "string" && typeof c.value === "string") values[c.custom_id] = c.value;
    walk(c.components);
    walk(c.component);
  };
  walk(components);
  return values;
}

export function parseInteraction(payload: APIInteraction, respond: (view: View) => Promise<void>): ParsedInteraction {
  if (payload.type === InteractionType.Ping) return { kind: "ping" };
  const member = "member" in payload ? payload.member : undefined;
  const guild = payload.guild_id;
  if (!guild || !member?.user) return { kind: "refused", reason: DM_REFUSAL };
  // A user-installed app is not a member of the server: it could answer but never post the job.
  const owners = payload.authorizing_integration_owners;
  if (owners && Object.keys(owners).length > 0 && owners[ApplicationIntegrationType.GuildInstall] === undefined) {
    return { kind: "refused", reason: NOT_INSTALLED };
  }
  const channel = payload.channel?.id ?? payload.channel_id;
  if (!channel) return { kind: "refused", reason: DISCORD_TEXT.msg("adapter.discord.no_channel") };

  const user = member.user;
  const actor: Actor = {
    id: discordIdentity(guild, user.id),
    name: member.nick || user.global_name || user.username,
    groups: (member.roles ?? []).map((role) => discordRoleIdentity(guild, role)),
    locale: payload.locale,
  };
  const base = { actor, conversation: encodeConversation(guild, channel), eventId: payload.id, respond };

  switch (payload.type) {
    case InteractionType.ApplicationCommand: {
      if (payload.data.type !== ApplicationCommandType.ChatInput) {
        return { kind: "refused", reason: DISCORD_TEXT.msg("adapter.discord.only_testum") };
      }
      const { path, options, mentionables } = commandOptions(payload.data.options);
      // A picked user or role becomes a testum identity, as core writes them.
      const roles = payload.data.resolved && "roles" in payload.data.resolved ? (payload.data.resolved.roles ?? {}) : {};
      for (const name of mentionables) {
        const id = String(options[name]);
        options[name] = `@${id in roles ? discordRoleIdentity(guild, id) : discordIdentity(guild, id)}`;
      }
      return { kind: "inbound", hasMessage: false, event: { ...base, kind: "command", input: { type: "options", path, options } } };
    }
    case InteractionType.ApplicationCommandAutocomplete: {
      const { path, focused, options } = commandOptions(payload.data.options);
      const complete = focused ? completionFor(path, focused.name) : undefined;
      return { kind: "complete", actor, complete, prefix: focused?.value ?? "", options };
    }
    case InteractionType.MessageComponent:
      return {
        kind: "inbound",
        hasMessage: true,
        event: { ...base, kind: "action", message: encodeMessage(guild, channel, payload.message.id), action: payload.data.custom_id },
      };
    case InteractionType.ModalSubmit:
      return {
        kind: "inbound",
        hasMessage: payload.message !== undefined,
        event: { ...base, kind: "form", action: payload.data.custom_id, values: modalValues(payload.data.components) },
      };
    default:
      // A kind of interaction testum does not handle (or one Discord adds later).
      return { kind: "refused", reason: DISCORD_TEXT.msg("adapter.discord.only_testum") };
  }
}
