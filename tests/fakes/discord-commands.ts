/**
 * Application command bulk overwrite (interactions/application-commands.mdx):
 * - CHAT_INPUT names and option names match `^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$`
 *   (unicode flag) and must use the lower-case variant of any cased letter; USER and MESSAGE
 *   command names are 1–32 characters and may have capitals and spaces;
 * - CHAT_INPUT descriptions 1–100 characters; USER/MESSAGE descriptions must be empty;
 * - at most 25 options per level, 25 choices (name 1–100, string value ≤ 100);
 * - subcommands and groups cannot be mixed with plain options; a group holds only subcommands,
 *   a subcommand holds no subcommands or groups; required options come before optional ones;
 * - option names unique per level; names unique per command type within a scope;
 * - name + description + choice names/values of a command total ≤ 4,000 characters;
 * - up to 100 CHAT_INPUT commands per scope.
 * Commands keep their id across overwrites when type and name are unchanged, and their
 * `version` when nothing else changed either, so overwriting twice with the same body is a no-op.
 */
import type { APIApplicationCommand } from 'discord-api-types/v10';
import { FormErrors } from './discord-errors.js';
import { length } from './discord-limits.js';
import type { SnowflakeSource } from './discord-clock.js';

const NAME_RE = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;
const MAX_OPTIONS = 25;
const MAX_CHOICES = 25;
const MAX_TOTAL_CHARS = 4000;
const MAX_CHAT_INPUT = 100;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const SUB_COMMAND = 1;
const SUB_COMMAND_GROUP = 2;
const OPTION_TYPES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
const CHOICE_TYPES = new Set([3, 4, 10]);

export interface CommandStore {
  /** Validates and stores `body` for a scope (`null` = global); returns the stored commands in body order. */
  overwrite(guildId: string | null, body: unknown): APIApplicationCommand[];
  list(guildId: string | null): APIApplicationCommand[];
}

export function createCommandStore(applicationId: string, ids: SnowflakeSource): CommandStore {
  const scopes = new Map<string, Map<string, { command: APIApplicationCommand; fingerprint: string }>>();
  const scopeKey = (guildId: string | null) => guildId ?? 'global';

  return {
    overwrite(guildId, body) {
      const commands = validateCommands(body);
      const previous = scopes.get(scopeKey(guildId)) ?? new Map();
      const next = new Map<string, { command: APIApplicationCommand; fingerprint: string }>();
      const result: APIApplicationCommand[] = [];
      for (const input of commands) {
        const type = Number(input.type ?? 1);
        const key = `${type}:${String(input.name)}`;
        const fingerprint = JSON.stringify(input);
        const old = previous.get(key);
        const id = old?.command.id ?? ids.next();
        const version = old && old.fingerprint === fingerprint ? old.command.version : ids.next();
        const command = toStored(applicationId, guildId, id, version, type, input);
        next.set(key, { command, fingerprint });
        result.push(command);
      }
      scopes.set(scopeKey(guildId), next);
      return structuredClone(result);
    },
    list(guildId) {
      return structuredClone([...(scopes.get(scopeKey(guildId))?.values() ?? [])].map((e) => e.command));
    },
  };
}

function toStored(applicationId: string, guildId: string | null, id: string, version: string, type: number, input: Json): APIApplicationCommand {
  const command: Json = {
    id,
    application_id: applicationId,
    version,
    default_member_permissions: (input.default_member_permissions as string | null | undefined) ?? null,
    type,
    name: input.name,
    name_localizations: input.name_localizations ?? null,
    description: input.description ?? '',
    description_localizations: input.description_localizations ?? null,
    nsfw: input.nsfw === true,
    integration_types: input.integration_types ?? [0],
    contexts: input.contexts ?? null,
  };
  if (guildId !== null) command.guild_id = guildId;
  else command.dm_permission = input.dm_permission !== false;
  if (Array.isArray(input.options) && input.options.length > 0) command.options = structuredClone(input.options);
  return command as unknown as APIApplicationCommand;
}

function validateCommands(body: unknown): Json[] {
  const errors = new FormErrors();
  if (!Array.isArray(body)) {
    errors.add([], 'BASE_TYPE_ARRAY', 'Must be an array.');
    errors.throwIfAny();
    return [];
  }
  const seen = new Set<string>();
  let chatInput = 0;
  body.forEach((raw: unknown, i: number) => {
    if (!isObject(raw)) return errors.add([i], 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    const type = Number(raw.type ?? 1);
    if (![1, 2, 3, 4].includes(type)) return errors.add([i, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4}.');
    const chat = type === 1;
    if (chat) chatInput += 1;
    const name = raw.name;
    if (typeof name !== 'string') return errors.add([i, 'name'], 'BASE_TYPE_REQUIRED', 'This field is required');
    if (chat ? !validName(name) : length(name) < 1 || length(name) > 32) {
      errors.add([i, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    }
    const key = `${type}:${name}`;
    if (seen.has(key)) errors.add([i, 'name'], 'APPLICATION_COMMANDS_DUPLICATE_NAME', `Application command names must be unique`);
    seen.add(key);
    const description = raw.description ?? '';
    if (typeof description !== 'string') errors.add([i, 'description'], 'BASE_TYPE_STRING', 'Must be a string.');
    else if (chat && (length(description) < 1 || length(description) > 100)) {
      errors.add([i, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    } else if (!chat && description !== '') {
      errors.add([i, 'description'], 'APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION', 'Context menu commands cannot have description');
    }
    if (raw.options !== undefined) {
      if (!chat) errors.add([i, 'options'], 'APPLICATION_COMMAND_OPTIONS_NOT_ALLOWED', 'Only CHAT_INPUT commands can have options');
      else validateOptions(raw.options, [i, 'options'], 'command', errors);
    }
    if (chat) {
      const total = length(String(name)) + length(String(description)) + optionChars(raw.options);
      if (total > MAX_TOTAL_CHARS) errors.add([i], 'APPLICATION_COMMAND_TOO_LARGE', `Command exceeds maximum size (${MAX_TOTAL_CHARS})`);
    }
  });
  if (chatInput > MAX_CHAT_INPUT) errors.add([], 'BASE_TYPE_MAX_LENGTH', `Must be ${MAX_CHAT_INPUT} or fewer in length.`);
  errors.throwIfAny();
  return body as Json[];
}

function validName(name: string): boolean {
  return NAME_RE.test(name) && name === name.toLowerCase();
}

type Level = 'command' | 'group' | 'subcommand';

function validateOptions(raw: unknown, path: Array<string | number>, level: Level, errors: FormErrors): void {
  if (!Array.isArray(raw)) return errors.add(path, 'BASE_TYPE_ARRAY', 'Must be an array.');
  if (raw.length > MAX_OPTIONS) errors.add(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${MAX_OPTIONS} or fewer in length.`);
  if (level === 'group' && raw.length < 1) errors.add(path, 'BASE_TYPE_BAD_LENGTH', `Must be between 1 and ${MAX_OPTIONS} in length.`);
  const names = new Set<string>();
  let subs = 0;
  let plain = 0;
  let sawOptional = false;
  raw.forEach((o: unknown, i: number) => {
    const p = [...path, i];
    if (!isObject(o)) return errors.add(p, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    const type = Number(o.type);
    if (!OPTION_TYPES.has(type)) return errors.add([...p, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, …, 11}.');
    if (typeof o.name !== 'string' || !validName(o.name)) errors.add([...p, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    else if (names.has(o.name)) errors.add([...p, 'name'], 'APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS', 'Option name already exists');
    if (typeof o.name === 'string') names.add(o.name);
    if (typeof o.description !== 'string' || length(o.description) < 1 || length(o.description) > 100) {
      errors.add([...p, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    }
    const isSub = type === SUB_COMMAND || type === SUB_COMMAND_GROUP;
    if (isSub) subs += 1;
    else plain += 1;
    if (level === 'group' && type !== SUB_COMMAND) {
      errors.add([...p, 'type'], 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Subcommand groups may only contain subcommands');
    }
    if (level === 'subcommand' && isSub) {
      errors.add([...p, 'type'], 'APPLICATION_COMMAND_OPTION_TYPE_INVALID', 'Subcommands cannot contain subcommands or groups');
    }
    if (type === SUB_COMMAND_GROUP && level === 'command') validateOptions(o.options ?? [], [...p, 'options'], 'group', errors);
    if (type === SUB_COMMAND && level !== 'subcommand' && o.options !== undefined) validateOptions(o.options, [...p, 'options'], 'subcommand', errors);
    if (!isSub) {
      if (o.required === true && sawOptional)
        errors.add([...p, 'required'], 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options');
      if (o.required !== true) sawOptional = true;
      validateChoices(o, type, [...p, 'choices'], errors);
    }
  });
  if (subs > 0 && plain > 0) errors.add(path, 'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID', 'Subcommands and subcommand groups cannot be mixed with other options');
}

function validateChoices(o: Json, type: number, path: Array<string | number>, errors: FormErrors): void {
  if (o.choices === undefined) return;
  if (!CHOICE_TYPES.has(type)) return errors.add(path, 'APPLICATION_COMMAND_OPTION_CHOICES_NOT_ALLOWED', 'Choices are only allowed on string, integer and number options');
  if (o.autocomplete === true) errors.add(path, 'APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE', 'Autocomplete cannot be used with choices');
  if (!Array.isArray(o.choices)) return errors.add(path, 'BASE_TYPE_ARRAY', 'Must be an array.');
  if (o.choices.length > MAX_CHOICES) errors.add(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${MAX_CHOICES} or fewer in length.`);
  o.choices.forEach((c: unknown, i: number) => {
    const choice = isObject(c) ? c : {};
    if (typeof choice.name !== 'string' || length(choice.name) < 1 || length(choice.name) > 100) {
      errors.add([...path, i, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    }
    if (typeof choice.value === 'string' && length(choice.value) > 100) errors.add([...path, i, 'value'], 'BASE_TYPE_MAX_LENGTH', 'Must be 100 or fewer in length.');
  });
}

function optionChars(options: unknown): number {
  if (!Array.isArray(options)) return 0;
  let n = 0;
  for (const o of options) {
    if (!isObject(o)) continue;
    n += length(String(o.name ?? '')) + length(String(o.description ?? ''));
    if (Array.isArray(o.choices)) {
      for (const c of o.choices) if (isObject(c)) n += length(String(c.name ?? '')) + length(String(c.value ?? ''));
    }
    n += optionChars(o.options);
  }
  return n;
}
