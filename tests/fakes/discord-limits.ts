/**
 * Message body validation for the fake Discord REST API. Limits come from
 * discord-api-docs `resources/message.mdx` (content, embeds, allowed mentions)
 * and `components/reference.mdx` (action rows, buttons, selects, modals).
 * Lengths are counted in Unicode code points.
 */
import type { APIEmbed, APIMessageTopLevelComponent } from 'discord-api-types/v10';
import { FormErrors, discordErrors } from './discord-errors.js';

export const MESSAGE_LIMITS = {
  /** message.mdx: content "up to 2000 characters". */
  content: 2000,
  /** message.mdx: "up to 10 rich embeds". */
  embeds: 10,
  /** message.mdx "Embed Limits". */
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  embedFieldName: 256,
  embedFieldValue: 1024,
  embedFooterText: 2048,
  embedAuthorName: 256,
  /** Sum of title, description, field names/values, footer text and author name over ALL embeds of a message. */
  embedTotal: 6000,
  /** message.mdx allowed mentions: "Max size of 100" for `users` and `roles`. */
  allowedMentionIds: 100,
} as const;

export const COMPONENT_LIMITS = {
  /** components/reference.mdx: a message can have up to 5 action rows. */
  actionRows: 5,
  /** An action row holds up to 5 buttons, or a single select menu. */
  buttonsPerRow: 5,
  /** custom_id: 1–100 characters, unique among the components of a message. */
  customId: 100,
  buttonLabel: 80,
  selectOptions: 25,
  selectOptionText: 100,
  selectPlaceholder: 150,
  /** IS_COMPONENTS_V2 messages: up to 40 components in total, nested ones included. */
  v2Total: 40,
  /** Modals: title 1–45 characters, 1–5 top-level components. */
  modalTitle: 45,
  modalComponents: 5,
} as const;

/** Message flags (message.mdx "Message Flags"). */
export const MessageFlag = {
  SuppressEmbeds: 1 << 2,
  HasThread: 1 << 5,
  Ephemeral: 1 << 6,
  Loading: 1 << 7,
  SuppressNotifications: 1 << 12,
  IsComponentsV2: 1 << 15,
} as const;

const SELECT_TYPES = new Set([3, 5, 6, 7, 8]);

export const length = (s: string): number => [...s].length;

export interface AllowedMentions {
  parse?: Array<'users' | 'roles' | 'everyone'>;
  users?: string[];
  roles?: string[];
  replied_user?: boolean;
}

/** The message fields a request supplied; absent keys were not sent (which matters for edits). */
export interface MessageInput {
  content?: string;
  embeds?: APIEmbed[];
  components?: APIMessageTopLevelComponent[];
  flags?: number;
  allowedMentions?: AllowedMentions;
  tts?: boolean;
  replyTo?: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const maxLen = (n: number) => `Must be ${n} or fewer in length.`;
const between = (a: number, b: number) => `Must be between ${a} and ${b} in length.`;

/**
 * Validates a create/edit/interaction-response body. Throws 400 50035 with
 * every problem found. `allowedFlags` masks the flags the route accepts.
 */
export function parseMessageInput(body: unknown, allowedFlags: number): MessageInput {
  const errors = new FormErrors();
  const input: MessageInput = {};
  const b: Json = isObject(body) ? body : {};

  if (b.content !== undefined && b.content !== null) {
    if (typeof b.content !== 'string') errors.add(['content'], 'BASE_TYPE_STRING', 'Must be a string.');
    else if (length(b.content) > MESSAGE_LIMITS.content) errors.add(['content'], 'BASE_TYPE_MAX_LENGTH', maxLen(MESSAGE_LIMITS.content));
    else input.content = b.content;
  } else if (b.content === null) {
    input.content = '';
  }

  if (b.embeds !== undefined && b.embeds !== null) {
    if (!Array.isArray(b.embeds)) errors.add(['embeds'], 'BASE_TYPE_ARRAY', 'Must be an array.');
    else {
      validateEmbeds(b.embeds, errors);
      input.embeds = b.embeds as APIEmbed[];
    }
  } else if (b.embeds === null) {
    input.embeds = [];
  }

  if (typeof b.flags === 'number') input.flags = b.flags & allowedFlags;
  const v2 = ((input.flags ?? 0) & MessageFlag.IsComponentsV2) !== 0;

  if (b.components !== undefined && b.components !== null) {
    if (!Array.isArray(b.components)) errors.add(['components'], 'BASE_TYPE_ARRAY', 'Must be an array.');
    else {
      validateComponents(b.components, errors, v2);
      input.components = b.components as APIMessageTopLevelComponent[];
    }
  } else if (b.components === null) {
    input.components = [];
  }

  if (v2 && input.content)
    errors.add(['content'], 'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2', "The 'content' field cannot be used when using MessageFlags.IS_COMPONENTS_V2");
  if (v2 && input.embeds?.length)
    errors.add(['embeds'], 'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2', "The 'embeds' field cannot be used when using MessageFlags.IS_COMPONENTS_V2");

  if (b.allowed_mentions !== undefined && b.allowed_mentions !== null) {
    input.allowedMentions = parseAllowedMentions(b.allowed_mentions, errors);
  }
  if (typeof b.tts === 'boolean') input.tts = b.tts;
  if (isObject(b.message_reference) && typeof b.message_reference.message_id === 'string') {
    input.replyTo = b.message_reference.message_id;
  }

  errors.throwIfAny();
  return input;
}

/** message.mdx: a message needs content, an embed, a component, a file, a sticker or a poll. */
export function assertNotEmpty(msg: { content: string; embeds: unknown[]; components: unknown[] }): void {
  if (msg.content.trim() === '' && msg.embeds.length === 0 && msg.components.length === 0) {
    throw discordErrors.emptyMessage();
  }
}

function validateEmbeds(embeds: unknown[], errors: FormErrors): void {
  const L = MESSAGE_LIMITS;
  if (embeds.length > L.embeds) errors.add(['embeds'], 'BASE_TYPE_MAX_LENGTH', maxLen(L.embeds));
  let total = 0;
  const text = (path: Array<string | number>, v: unknown, max: number): void => {
    if (v === undefined || v === null) return;
    if (typeof v !== 'string') return errors.add(path, 'BASE_TYPE_STRING', 'Must be a string.');
    const n = length(v);
    total += n;
    if (n > max) errors.add(path, 'BASE_TYPE_MAX_LENGTH', maxLen(max));
  };
  embeds.forEach((raw, i) => {
    if (!isObject(raw)) return errors.add(['embeds', i], 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    text(['embeds', i, 'title'], raw.title, L.embedTitle);
    text(['embeds', i, 'description'], raw.description, L.embedDescription);
    if (isObject(raw.footer)) text(['embeds', i, 'footer', 'text'], raw.footer.text, L.embedFooterText);
    if (isObject(raw.author)) text(['embeds', i, 'author', 'name'], raw.author.name, L.embedAuthorName);
    if (raw.fields !== undefined) {
      if (!Array.isArray(raw.fields)) return errors.add(['embeds', i, 'fields'], 'BASE_TYPE_ARRAY', 'Must be an array.');
      if (raw.fields.length > L.embedFields) errors.add(['embeds', i, 'fields'], 'BASE_TYPE_MAX_LENGTH', maxLen(L.embedFields));
      raw.fields.forEach((f: unknown, j: number) => {
        const field = isObject(f) ? f : {};
        for (const [key, max] of [
          ['name', L.embedFieldName],
          ['value', L.embedFieldValue],
        ] as const) {
          if (typeof field[key] !== 'string') errors.add(['embeds', i, 'fields', j, key], 'BASE_TYPE_REQUIRED', 'This field is required');
          else text(['embeds', i, 'fields', j, key], field[key], max);
        }
      });
    }
  });
  if (total > L.embedTotal) errors.add(['embeds'], 'MAX_EMBED_SIZE_EXCEEDED', `Embed size exceeds maximum size of ${L.embedTotal}`);
}

function validateComponents(components: unknown[], errors: FormErrors, v2: boolean): void {
  const C = COMPONENT_LIMITS;
  const customIds = new Set<string>();
  let total = 0;

  const interactive = (c: Json, path: Array<string | number>): void => {
    if (typeof c.custom_id !== 'string') return errors.add([...path, 'custom_id'], 'BASE_TYPE_REQUIRED', 'This field is required');
    const n = length(c.custom_id);
    if (n < 1 || n > C.customId) errors.add([...path, 'custom_id'], 'BASE_TYPE_BAD_LENGTH', between(1, C.customId));
    if (customIds.has(c.custom_id)) errors.add([...path, 'custom_id'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
    customIds.add(c.custom_id);
  };

  const button = (c: Json, path: Array<string | number>): void => {
    if (typeof c.label === 'string' && length(c.label) > C.buttonLabel) errors.add([...path, 'label'], 'BASE_TYPE_MAX_LENGTH', maxLen(C.buttonLabel));
    if (c.style === 5) {
      if (typeof c.url !== 'string') errors.add([...path, 'url'], 'BASE_TYPE_REQUIRED', 'This field is required');
      if (c.custom_id !== undefined) errors.add([...path, 'custom_id'], 'BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED', 'A custom id cannot be set on a link button');
    } else if (c.style !== 6) {
      interactive(c, path);
      if (c.label === undefined && c.emoji === undefined) errors.add([...path, 'label'], 'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED', 'A label or emoji is required');
    }
  };

  const select = (c: Json, path: Array<string | number>): void => {
    interactive(c, path);
    if (typeof c.placeholder === 'string' && length(c.placeholder) > C.selectPlaceholder) errors.add([...path, 'placeholder'], 'BASE_TYPE_MAX_LENGTH', maxLen(C.selectPlaceholder));
    if (c.type === 3) {
      const options = Array.isArray(c.options) ? c.options : [];
      if (options.length < 1 || options.length > C.selectOptions) errors.add([...path, 'options'], 'BASE_TYPE_BAD_LENGTH', between(1, C.selectOptions));
      options.forEach((o: unknown, k: number) => {
        const opt = isObject(o) ? o : {};
        for (const key of ['label', 'value', 'description'] as const) {
          const v = opt[key];
          if (typeof v === 'string' && length(v) > C.selectOptionText) errors.add([...path, 'options', k, key], 'BASE_TYPE_MAX_LENGTH', maxLen(C.selectOptionText));
        }
      });
    }
  };

  const row = (c: Json, path: Array<string | number>): void => {
    const children = Array.isArray(c.components) ? c.components : [];
    const hasSelect = children.some((x: unknown) => isObject(x) && SELECT_TYPES.has(Number(x.type)));
    const max = hasSelect ? 1 : C.buttonsPerRow;
    if (children.length < 1 || children.length > max) errors.add([...path, 'components'], 'BASE_TYPE_BAD_LENGTH', between(1, max));
    children.forEach((x: unknown, k: number) => walk(x, [...path, 'components', k], 'row'));
  };

  const walk = (raw: unknown, path: Array<string | number>, parent: 'top' | 'row' | 'v2'): void => {
    total += 1;
    if (!isObject(raw)) return errors.add(path, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    const type = Number(raw.type);
    if (parent === 'top' && !v2 && type !== 1) return errors.add([...path, 'type'], 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (1,).');
    if (parent === 'row' && type === 1) return errors.add([...path, 'type'], 'UNION_TYPE_CHOICES', 'Action rows cannot be nested.');
    if (type === 1) return row(raw, path);
    if (type === 2) return button(raw, path);
    if (SELECT_TYPES.has(type)) return select(raw, path);
    // Components v2 layout components (section 9, container 17) nest further components.
    if (Array.isArray(raw.components)) raw.components.forEach((x: unknown, k: number) => walk(x, [...path, 'components', k], 'v2'));
    if (raw.accessory !== undefined) walk(raw.accessory, [...path, 'accessory'], 'v2');
  };

  if (!v2 && components.length > C.actionRows) errors.add(['components'], 'BASE_TYPE_MAX_LENGTH', maxLen(C.actionRows));
  components.forEach((c, i) => walk(c, ['components', i], 'top'));
  if (v2 && total > C.v2Total) errors.add(['components'], 'BASE_TYPE_MAX_LENGTH', maxLen(C.v2Total));
}

function parseAllowedMentions(raw: unknown, errors: FormErrors): AllowedMentions | undefined {
  if (!isObject(raw)) {
    errors.add(['allowed_mentions'], 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    return undefined;
  }
  const out: AllowedMentions = {};
  if (raw.parse !== undefined) {
    if (!Array.isArray(raw.parse)) errors.add(['allowed_mentions', 'parse'], 'BASE_TYPE_ARRAY', 'Must be an array.');
    else {
      out.parse = [];
      raw.parse.forEach((p: unknown, i: number) => {
        if (p === 'users' || p === 'roles' || p === 'everyone') out.parse!.push(p);
        else errors.add(['allowed_mentions', 'parse', i], 'BASE_TYPE_CHOICES', "Value must be one of {'everyone', 'roles', 'users'}.");
      });
    }
  }
  for (const key of ['users', 'roles'] as const) {
    const ids = raw[key];
    if (ids === undefined) continue;
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) {
      errors.add(['allowed_mentions', key], 'BASE_TYPE_ARRAY', 'Must be an array of snowflakes.');
      continue;
    }
    if (ids.length > MESSAGE_LIMITS.allowedMentionIds) errors.add(['allowed_mentions', key], 'BASE_TYPE_MAX_LENGTH', maxLen(MESSAGE_LIMITS.allowedMentionIds));
    // message.mdx: `parse: ["users"]` together with `users: [...]` (same for roles) is rejected as mutually exclusive.
    if (out.parse?.includes(key))
      errors.add(['allowed_mentions', key], 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE', `parse:["${key}"] and ${key}: [ids...] are mutually exclusive.`);
    out[key] = ids as string[];
  }
  if (typeof raw.replied_user === 'boolean') out.replied_user = raw.replied_user;
  return out;
}

/** Modal callback data (components/reference.mdx "Modal"): custom_id 1–100, title 1–45, 1–5 components. */
export function validateModal(data: unknown): void {
  const errors = new FormErrors();
  const d: Json = isObject(data) ? data : {};
  const C = COMPONENT_LIMITS;
  const check = (key: string, max: number) => {
    const v = d[key];
    if (typeof v !== 'string') errors.add(['data', key], 'BASE_TYPE_REQUIRED', 'This field is required');
    else if (length(v) < 1 || length(v) > max) errors.add(['data', key], 'BASE_TYPE_BAD_LENGTH', between(1, max));
  };
  check('custom_id', C.customId);
  check('title', C.modalTitle);
  const comps = Array.isArray(d.components) ? d.components : [];
  if (comps.length < 1 || comps.length > C.modalComponents) errors.add(['data', 'components'], 'BASE_TYPE_BAD_LENGTH', between(1, C.modalComponents));
  errors.throwIfAny();
}
