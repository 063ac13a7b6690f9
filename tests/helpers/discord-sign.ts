/**
 * Signed inbound Discord interactions for tests.
 *
 * Discord signs every request to an interactions endpoint (interactions/overview.mdx):
 * `X-Signature-Ed25519` = hex Ed25519 signature of `timestamp + rawBody` with the app's key,
 * `X-Signature-Timestamp` = unix seconds. The app holds the hex public key. The builders
 * produce payloads shaped like Discord's (interactions/receiving-and-responding.mdx
 * "Interaction Object"), typed with discord-api-types.
 */
import { type KeyObject, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import {
  type APIApplicationCommandAutocompleteInteraction,
  type APIApplicationCommandInteractionDataBasicOption,
  type APIApplicationCommandInteractionDataOption,
  type APIBaseInteraction,
  type APIChatInputApplicationCommandInteraction,
  type APIInteractionGuildMember,
  type APIMessage,
  type APIMessageComponentInteraction,
  type APIModalSubmitInteraction,
  type APIPingInteraction,
  type APIUser,
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  ChannelType,
  ComponentType,
  InteractionContextType,
  InteractionType,
  type GuildMemberFlags,
  type Locale,
} from 'discord-api-types/v10';

export interface DiscordKeys {
  /** 64 hex characters: what the Developer Portal shows as "Public Key". */
  publicKeyHex: string;
  publicKey: KeyObject;
  privateKey: KeyObject;
}

export function createDiscordKeys(): DiscordKeys {
  // Encoded as they are made: exporting a freshly made key object can deadlock Node 20 (see adapters/ssh/keys.ts).
  const der = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
  return {
    publicKeyHex: der.publicKey.subarray(-32).toString('hex'),
    publicKey: createPublicKey({ key: der.publicKey, format: 'der', type: 'spki' }),
    privateKey: createPrivateKey({ key: der.privateKey, format: 'der', type: 'pkcs8' }),
  };
}

export interface DiscordSignatureHeaders {
  'x-signature-ed25519': string;
  'x-signature-timestamp': string;
  'content-type': 'application/json';
  [name: string]: string;
}

/** Headers Discord would send with `rawBody`, signed at `timestampSec` (default now). */
export function signDiscord(privateKey: KeyObject, rawBody: string | Buffer, timestampSec = Math.floor(Date.now() / 1000)): DiscordSignatureHeaders {
  const ts = String(timestampSec);
  const signature = sign(null, Buffer.concat([Buffer.from(ts), Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody)]), privateKey);
  return { 'x-signature-ed25519': signature.toString('hex'), 'x-signature-timestamp': ts, 'content-type': 'application/json' };
}

export interface SignedResponse {
  status: number;
  /** Parsed JSON body, or undefined when the body was empty or not JSON. */
  json: unknown;
  text: string;
  /** Wall time from sending to the full response. */
  ms: number;
}

/** POSTs `body` (JSON-encoded unless already a string) to `url`, signed as Discord would. */
export async function postSignedDiscord(
  url: string,
  body: object | string,
  privateKey: KeyObject,
  opts: { timestampSec?: number; signatureOverride?: string; headers?: Record<string, string> } = {},
): Promise<SignedResponse> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const headers = { ...signDiscord(privateKey, raw, opts.timestampSec), ...opts.headers };
  if (opts.signatureOverride !== undefined) headers['x-signature-ed25519'] = opts.signatureOverride;
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers, body: raw });
  const text = await res.text();
  const ms = performance.now() - started;
  let json: unknown;
  if (text && res.headers.get('content-type')?.includes('application/json')) json = JSON.parse(text);
  return { status: res.status, json, text, ms };
}

// ---------------------------------------------------------------------------------------
// Payload builders

const DISCORD_EPOCH_MS = 1_420_070_400_000;
let sequence = 0n;
/** A fresh snowflake (18–19 digits) from the current time. */
export function snowflake(ms = Date.now()): string {
  sequence = (sequence + 1n) & 0xfffn;
  return ((BigInt(ms - DISCORD_EPOCH_MS) << 22n) | sequence).toString();
}

const bits = (...flags: bigint[]) => flags.reduce((a, b) => a | b, 0n).toString();
/** VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY | CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS (permissions.mdx). */
export const DEFAULT_APP_PERMISSIONS = bits(1n << 10n, 1n << 11n, 1n << 14n, 1n << 16n, 1n << 35n, 1n << 38n);
/** A plain member: the above plus USE_APPLICATION_COMMANDS. */
export const DEFAULT_MEMBER_PERMISSIONS = bits(1n << 10n, 1n << 11n, 1n << 14n, 1n << 16n, 1n << 31n, 1n << 35n, 1n << 38n);

export interface InteractionUser {
  id: string;
  username: string;
  global_name?: string | null;
}

export interface BaseInteractionOptions {
  id?: string;
  token?: string;
  applicationId: string;
  /** Absent: a DM with the bot (top-level `user`, no `member`). */
  guildId?: string;
  channelId: string;
  /** Default GUILD_TEXT (0) in a guild, DM (1) otherwise; PUBLIC_THREAD (11) for commands run in a thread. */
  channelType?: ChannelType;
  user: InteractionUser;
  /** Role ids of the member (guild only). */
  roles?: string[];
  nick?: string;
  locale?: Locale | `${Locale}`;
  guildLocale?: Locale | `${Locale}`;
  /** Member permission bitfield (guild only). */
  permissions?: string;
  appPermissions?: string;
  /** Default: GUILD (0) in a guild, BOT_DM (1) otherwise. */
  context?: InteractionContextType;
  /** Default: guild install, `{ "0": guildId }`, or `{ "0": "0" }` in the bot's DM. */
  authorizingIntegrationOwners?: APIBaseInteraction<InteractionType, unknown>['authorizing_integration_owners'];
}

type InteractionChannel = NonNullable<APIBaseInteraction<InteractionType, unknown>['channel']>;

export type OptionValues = Record<string, string | number | boolean>;

export interface CommandInteractionOptions extends BaseInteractionOptions {
  /** Command name; default 'testum'. */
  name?: string;
  commandId?: string;
  subcommandGroup?: string;
  subcommand?: string;
  /** Name → value (string 3, integer 4, other number 10, boolean 5), or ready-made option objects. */
  options?: OptionValues | APIApplicationCommandInteractionDataBasicOption[];
}

function apiUser(u: InteractionUser): APIUser {
  return { id: u.id, username: u.username, discriminator: '0', global_name: u.global_name ?? null, avatar: null };
}

function base<T extends InteractionType>(type: T, o: BaseInteractionOptions) {
  const user = apiUser(o.user);
  const inGuild = o.guildId !== undefined;
  const common = {
    id: o.id ?? snowflake(),
    application_id: o.applicationId,
    type,
    token: o.token ?? `aW50ZXJhY3Rpb246${Buffer.from(snowflake()).toString('base64url')}`,
    version: 1 as const,
    channel_id: o.channelId,
    channel: { id: o.channelId, type: o.channelType ?? (inGuild ? ChannelType.GuildText : ChannelType.DM) } as InteractionChannel,
    app_permissions: o.appPermissions ?? DEFAULT_APP_PERMISSIONS,
    locale: (o.locale ?? 'en-US') as Locale,
    entitlements: [],
    authorizing_integration_owners: o.authorizingIntegrationOwners ?? { [ApplicationIntegrationType.GuildInstall]: o.guildId ?? '0' },
    context: o.context ?? (inGuild ? InteractionContextType.Guild : InteractionContextType.BotDM),
    // 10 MiB: the upload limit of an unboosted guild.
    attachment_size_limit: 10 * 1024 * 1024,
  };
  if (!inGuild) return { ...common, user };
  const member: APIInteractionGuildMember = {
    user,
    roles: [...(o.roles ?? [])],
    nick: o.nick ?? null,
    avatar: null,
    joined_at: new Date(0).toISOString(),
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0 as GuildMemberFlags,
    pending: false,
    communication_disabled_until: null,
    permissions: o.permissions ?? DEFAULT_MEMBER_PERMISSIONS,
  };
  return {
    ...common,
    guild_id: o.guildId,
    guild: { id: o.guildId!, locale: (o.guildLocale ?? o.locale ?? 'en-US') as Locale, features: [] },
    guild_locale: (o.guildLocale ?? 'en-US') as Locale,
    member,
  };
}

function toOptions(values: OptionValues | APIApplicationCommandInteractionDataBasicOption[] | undefined, focused?: string): APIApplicationCommandInteractionDataBasicOption[] {
  if (Array.isArray(values)) return values;
  return Object.entries(values ?? {}).map(([name, value]): APIApplicationCommandInteractionDataBasicOption => {
    if (typeof value === 'boolean') return { name, type: ApplicationCommandOptionType.Boolean, value };
    const focus = name === focused ? { focused: true } : {};
    if (typeof value === 'number') {
      return Number.isInteger(value) ? { name, type: ApplicationCommandOptionType.Integer, value, ...focus } : { name, type: ApplicationCommandOptionType.Number, value, ...focus };
    }
    return { name, type: ApplicationCommandOptionType.String, value, ...focus };
  });
}

function nest(basic: APIApplicationCommandInteractionDataBasicOption[], o: CommandInteractionOptions): APIApplicationCommandInteractionDataOption[] {
  if (o.subcommand === undefined) {
    if (o.subcommandGroup !== undefined) throw new Error('subcommandGroup needs a subcommand');
    return basic;
  }
  const sub = { name: o.subcommand, type: ApplicationCommandOptionType.Subcommand as const, options: basic };
  return o.subcommandGroup === undefined ? [sub] : [{ name: o.subcommandGroup, type: ApplicationCommandOptionType.SubcommandGroup, options: [sub] }];
}

/** A type 2 APPLICATION_COMMAND (CHAT_INPUT) interaction, e.g. `/testum run host:db1 command:"df -h"`. */
export function commandInteraction(o: CommandInteractionOptions): APIChatInputApplicationCommandInteraction {
  return {
    ...base(InteractionType.ApplicationCommand, o),
    data: {
      id: o.commandId ?? snowflake(),
      type: ApplicationCommandType.ChatInput,
      name: o.name ?? 'testum',
      ...(o.guildId !== undefined ? { guild_id: o.guildId } : {}),
      options: nest(toOptions(o.options), o),
    },
  };
}

/** A type 4 APPLICATION_COMMAND_AUTOCOMPLETE interaction; `focused` names the option being typed. */
export function autocompleteInteraction(o: CommandInteractionOptions & { focused: string }): APIApplicationCommandAutocompleteInteraction {
  const values: OptionValues = { [o.focused]: '', ...(Array.isArray(o.options) ? {} : o.options) };
  const basic = Array.isArray(o.options) ? o.options : toOptions(values, o.focused);
  return {
    ...base(InteractionType.ApplicationCommandAutocomplete, o),
    data: { id: o.commandId ?? snowflake(), type: ApplicationCommandType.ChatInput, name: o.name ?? 'testum', options: nest(basic, o) },
  };
}

/** Drops the fake's bookkeeping fields so only the wire message remains. */
function wireMessage(message: APIMessage): APIMessage {
  const copy = structuredClone(message) as APIMessage & Record<string, unknown>;
  for (const key of ['edits', 'deleted', 'source', 'interactionId', 'wouldPing']) delete copy[key];
  return copy;
}

/** A type 3 MESSAGE_COMPONENT interaction: a button click (or a string select when `values` is set). */
export function componentInteraction(o: BaseInteractionOptions & { customId: string; message: APIMessage; values?: string[] }): APIMessageComponentInteraction {
  const data = o.values
    ? { custom_id: o.customId, component_type: ComponentType.StringSelect as const, values: o.values }
    : { custom_id: o.customId, component_type: ComponentType.Button as const };
  return { ...base(InteractionType.MessageComponent, o), data, message: wireMessage(o.message) };
}

/** A type 5 MODAL_SUBMIT interaction; each field arrives as a text input in its own action row. */
export function modalSubmitInteraction(o: BaseInteractionOptions & { customId: string; fields: Record<string, string>; message?: APIMessage }): APIModalSubmitInteraction {
  const components = Object.entries(o.fields).map(([customId, value]) => ({
    type: ComponentType.ActionRow as const,
    components: [{ type: ComponentType.TextInput as const, custom_id: customId, value }],
  }));
  return {
    ...base(InteractionType.ModalSubmit, o),
    data: { custom_id: o.customId, components },
    ...(o.message ? { message: wireMessage(o.message) } : {}),
  };
}

/** A type 1 PING, which Discord sends to check the endpoint; the answer must be `{ type: 1 }`. */
export function pingInteraction(o: { id?: string; token?: string; applicationId?: string } = {}): APIPingInteraction {
  return {
    id: o.id ?? snowflake(),
    application_id: o.applicationId ?? snowflake(),
    type: InteractionType.Ping,
    token: o.token ?? `aW50ZXJhY3Rpb246${Buffer.from(snowflake()).toString('base64url')}`,
    version: 1,
    app_permissions: DEFAULT_APP_PERMISSIONS,
    entitlements: [],
    authorizing_integration_owners: {},
    attachment_size_limit: 10 * 1024 * 1024,
  };
}
