/**
 * State of the fake Discord: guilds, roles, members, channels, threads, messages and
 * interactions, plus their wire (JSON) representations.
 *
 * Thread rules (topics/threads.mdx): a thread archives itself after `auto_archive_duration`
 * minutes without a new message (edits are not activity); sending a message to an archived
 * thread that is not locked unarchives it; editing or deleting messages in an archived
 * thread fails with 50083.
 */
import type { APIChannel, APIEmbed, APIMessage, APIMessageTopLevelComponent, APIUser } from 'discord-api-types/v10';
import { type FakeClock, type SnowflakeSource, isoTime } from './discord-clock.js';
import { discordErrors } from './discord-errors.js';
import { type AllowedMentions, type MessageInput, MessageFlag, assertNotEmpty } from './discord-limits.js';
import { NO_PINGS, type PingOutcome, resolvePings } from './discord-mentions.js';

export interface UserRecord {
  id: string;
  username: string;
  globalName: string | null;
  bot: boolean;
}

export interface MemberRecord {
  userId: string;
  nick: string | null;
  roles: string[];
  joinedAt: number;
}

export interface RoleRecord {
  id: string;
  name: string;
  mentionable: boolean;
}

export interface GuildRecord {
  id: string;
  name: string;
  roles: Map<string, RoleRecord>;
  members: Map<string, MemberRecord>;
}

export interface ThreadState {
  archived: boolean;
  locked: boolean;
  /** Minutes: 60, 1440, 4320 or 10080. */
  autoArchiveDuration: number;
  archiveTimestamp: number;
  createTimestamp: number;
  lastActivityAt: number;
  ownerId: string;
  messageCount: number;
}

export interface ChannelRecord {
  id: string;
  /** 0 GUILD_TEXT, 11 PUBLIC_THREAD. */
  type: 0 | 11;
  guildId: string;
  name: string;
  topic: string | null;
  parentId: string | null;
  lastMessageId: string | null;
  thread: ThreadState | null;
}

/** The message as it stood after one edit; `edits` lists them oldest first (the original is not repeated). */
export interface MessageEdit {
  content: string;
  embeds: APIEmbed[];
  components: APIMessageTopLevelComponent[];
  at: number;
}

export type MessageSource = 'bot' | 'interaction' | 'user';

export interface MessageRecord {
  id: string;
  channelId: string;
  authorId: string;
  content: string;
  embeds: APIEmbed[];
  components: APIMessageTopLevelComponent[];
  flags: number;
  type: number;
  tts: boolean;
  createdAt: number;
  editedAt: number | null;
  webhookId: string | null;
  interactionId: string | null;
  replyTo: string | null;
  threadId: string | null;
  pings: PingOutcome;
  edits: MessageEdit[];
  deleted: boolean;
  source: MessageSource;
}

export interface CallbackRecord {
  interactionId: string;
  /** Interaction callback type (1 PONG, 4 message, 5 deferred, 6 deferred update, 7 update, 8 autocomplete, 9 modal). */
  type: number;
  body: unknown;
  at: number;
}

export interface InteractionRecord {
  id: string;
  token: string;
  /** Interaction type: 2 command, 3 component, 4 autocomplete, 5 modal submit. */
  type: number;
  channelId: string;
  guildId: string | null;
  userId: string;
  messageId: string | null;
  commandName: string;
  issuedAt: number;
  callback: CallbackRecord | null;
  originalMessageId: string | null;
  /** A deferred (type 5) response still showing "thinking…". */
  originalLoading: boolean;
  followupIds: string[];
}

export interface PingRecord {
  messageId: string;
  channelId: string;
  /** The bot's user id for bot and interaction messages; a human's for `postUserMessage`. */
  authorId: string;
  /** `create` notifies; `edit` only makes the message render as mentioning (Discord sends no notification for edits). */
  kind: 'create' | 'edit';
  at: number;
  everyone: boolean;
  here: boolean;
  users: string[];
  roles: string[];
}

export interface NewMessage {
  authorId: string;
  source: MessageSource;
  type?: number;
  flags?: number;
  webhookId?: string;
  interactionId?: string;
}

export class DiscordState {
  readonly users = new Map<string, UserRecord>();
  readonly guilds = new Map<string, GuildRecord>();
  readonly channels = new Map<string, ChannelRecord>();
  readonly messages = new Map<string, MessageRecord>();
  readonly interactions = new Map<string, InteractionRecord>();
  readonly callbacks: CallbackRecord[] = [];
  readonly pings: PingRecord[] = [];

  constructor(
    readonly clock: FakeClock,
    readonly ids: SnowflakeSource,
    readonly botUser: UserRecord,
  ) {
    this.users.set(botUser.id, botUser);
  }

  guildOr404(id: string): GuildRecord {
    const g = this.guilds.get(id);
    if (!g) throw discordErrors.unknownGuild();
    return g;
  }

  /** The channel, with thread auto-archive applied as of now. */
  channelOr404(id: string): ChannelRecord {
    const ch = this.channels.get(id);
    if (!ch) throw discordErrors.unknownChannel();
    this.refreshThread(ch);
    return ch;
  }

  messageOr404(channel: ChannelRecord, id: string): MessageRecord {
    const m = this.messages.get(id);
    if (!m || m.deleted || m.channelId !== channel.id) throw discordErrors.unknownMessage();
    return m;
  }

  refreshThread(ch: ChannelRecord): void {
    const t = ch.thread;
    if (!t || t.archived) return;
    const due = t.lastActivityAt + t.autoArchiveDuration * 60_000;
    if (this.clock.now() >= due) {
      t.archived = true;
      t.archiveTimestamp = due;
    }
  }

  /** Posting to an archived thread unarchives it unless it is locked (threads.mdx). */
  prepareSend(ch: ChannelRecord): void {
    const t = ch.thread;
    if (!t?.archived) return;
    if (t.locked) throw discordErrors.threadArchived();
    t.archived = false;
    t.archiveTimestamp = this.clock.now();
  }

  assertEditable(ch: ChannelRecord): void {
    if (ch.thread?.archived) throw discordErrors.threadArchived();
  }

  createMessage(ch: ChannelRecord, input: MessageInput, meta: NewMessage): MessageRecord {
    const msg = {
      content: input.content ?? '',
      embeds: input.embeds ?? [],
      components: input.components ?? [],
    };
    const loading = ((meta.flags ?? 0) & MessageFlag.Loading) !== 0;
    if (!loading) assertNotEmpty(msg);
    this.prepareSend(ch);
    const now = this.clock.now();
    const flags = (input.flags ?? 0) | (meta.flags ?? 0);
    const replied = input.replyTo ? this.messages.get(input.replyTo) : undefined;
    const rec: MessageRecord = {
      id: this.ids.next(),
      channelId: ch.id,
      authorId: meta.authorId,
      ...msg,
      flags,
      type: meta.type ?? (replied ? 19 : 0),
      tts: input.tts ?? false,
      createdAt: now,
      editedAt: null,
      webhookId: meta.webhookId ?? null,
      interactionId: meta.interactionId ?? null,
      replyTo: replied?.id ?? null,
      threadId: null,
      pings: NO_PINGS,
      edits: [],
      deleted: false,
      source: meta.source,
    };
    rec.pings = loading ? NO_PINGS : this.pingsFor(ch, rec, input.allowedMentions, replied?.authorId);
    this.messages.set(rec.id, rec);
    this.recordPings(rec, 'create');
    ch.lastMessageId = rec.id;
    if (ch.thread) {
      ch.thread.lastActivityAt = now;
      ch.thread.messageCount += 1;
    }
    return rec;
  }

  /**
   * Applies an edit. Only the fields present in `input` change. Mentions are re-parsed when the
   * edit sends content or allowed_mentions; which allowed_mentions apply to an edit that sends
   * content without them is not documented, so the fake parses with the default (everything),
   * the worst case.
   */
  editMessage(ch: ChannelRecord, rec: MessageRecord, input: MessageInput, clearLoading = false): MessageRecord {
    this.assertEditable(ch);
    const next = {
      content: input.content ?? rec.content,
      embeds: input.embeds ?? rec.embeds,
      components: input.components ?? rec.components,
    };
    assertNotEmpty(next);
    const now = this.clock.now();
    rec.edits.push({ ...structuredClone(next), at: now });
    Object.assign(rec, next);
    if (input.flags !== undefined) {
      // message.mdx "Edit Message": flags are replaced, but IS_COMPONENTS_V2 cannot be removed once set.
      const sticky = MessageFlag.Ephemeral | MessageFlag.HasThread | MessageFlag.Loading | MessageFlag.IsComponentsV2;
      rec.flags = (rec.flags & sticky) | input.flags;
    }
    const wasLoading = (rec.flags & MessageFlag.Loading) !== 0;
    if (clearLoading) rec.flags &= ~MessageFlag.Loading;
    rec.editedAt = wasLoading && clearLoading ? null : now;
    const firstContent = wasLoading && clearLoading;
    if (firstContent || input.content !== undefined || input.allowedMentions !== undefined) {
      const replied = rec.replyTo ? this.messages.get(rec.replyTo) : undefined;
      rec.pings = this.pingsFor(ch, rec, input.allowedMentions, replied?.authorId);
      // The first content of a deferred response notifies as a new message would.
      this.recordPings(rec, firstContent ? 'create' : 'edit');
    }
    return rec;
  }

  private pingsFor(ch: ChannelRecord, rec: MessageRecord, allowed: AllowedMentions | undefined, repliedAuthorId?: string): PingOutcome {
    const guild = ch.guildId ? this.guilds.get(ch.guildId) : undefined;
    return resolvePings(rec.content, allowed, {
      inGuild: guild !== undefined,
      ephemeral: (rec.flags & MessageFlag.Ephemeral) !== 0,
      roleMentionable: (id) => guild?.roles.get(id)?.mentionable,
      ...(repliedAuthorId !== undefined ? { repliedAuthorId } : {}),
    });
  }

  private recordPings(rec: MessageRecord, kind: 'create' | 'edit'): void {
    const p = rec.pings;
    if (!p.any) return;
    this.pings.push({
      messageId: rec.id,
      channelId: rec.channelId,
      authorId: rec.authorId,
      kind,
      at: this.clock.now(),
      everyone: p.everyone,
      here: p.here,
      users: [...p.users],
      roles: [...p.roles],
    });
  }

  userJson(id: string): APIUser {
    const u = this.users.get(id);
    return {
      id,
      username: u?.username ?? `user${id.slice(-4)}`,
      discriminator: '0',
      global_name: u?.globalName ?? null,
      avatar: null,
      ...(u?.bot ? { bot: true } : {}),
    };
  }

  messageJson(rec: MessageRecord): APIMessage {
    const ch = this.channels.get(rec.channelId);
    const interaction = rec.interactionId ? this.interactions.get(rec.interactionId) : undefined;
    const json: APIMessage = {
      id: rec.id,
      channel_id: rec.channelId,
      author: this.userJson(rec.authorId),
      content: rec.content,
      timestamp: isoTime(rec.createdAt),
      edited_timestamp: rec.editedAt === null ? null : isoTime(rec.editedAt),
      tts: rec.tts,
      mention_everyone: rec.pings.everyone || rec.pings.here,
      mentions: rec.pings.users.map((id) => this.userJson(id)),
      mention_roles: [...rec.pings.roles],
      attachments: [],
      embeds: structuredClone(rec.embeds),
      components: structuredClone(rec.components),
      pinned: false,
      type: rec.type,
      flags: rec.flags,
    };
    if (rec.webhookId) {
      json.webhook_id = rec.webhookId;
      json.application_id = rec.webhookId;
    }
    if (rec.replyTo) json.message_reference = { type: 0, message_id: rec.replyTo, channel_id: rec.channelId, ...(ch?.guildId ? { guild_id: ch.guildId } : {}) };
    if (interaction) {
      json.interaction_metadata = {
        id: interaction.id,
        type: interaction.type,
        user: this.userJson(interaction.userId),
        authorizing_integration_owners: interaction.guildId ? { 0: interaction.guildId } : { 1: interaction.userId },
      } as APIMessage['interaction_metadata'];
    }
    if (rec.threadId) {
      const thread = this.channels.get(rec.threadId);
      if (thread) json.thread = this.channelJson(thread);
    }
    return json;
  }

  channelJson(ch: ChannelRecord): APIChannel {
    this.refreshThread(ch);
    const base = {
      id: ch.id,
      type: ch.type,
      guild_id: ch.guildId,
      name: ch.name,
      last_message_id: ch.lastMessageId,
      rate_limit_per_user: 0,
      flags: 0,
      parent_id: ch.parentId,
    };
    const t = ch.thread;
    if (!t) {
      return { ...base, position: 0, permission_overwrites: [], nsfw: false, topic: ch.topic, default_auto_archive_duration: 1440 } as APIChannel;
    }
    return {
      ...base,
      owner_id: t.ownerId,
      message_count: t.messageCount,
      total_message_sent: t.messageCount,
      member_count: 1,
      thread_metadata: {
        archived: t.archived,
        auto_archive_duration: t.autoArchiveDuration,
        archive_timestamp: isoTime(t.archiveTimestamp),
        locked: t.locked,
        create_timestamp: isoTime(t.createTimestamp),
      },
    } as APIChannel;
  }
}
