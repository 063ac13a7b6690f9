/**
 * Bot-token routes: channels, messages, threads and application commands
 * (resources/channel.mdx, resources/message.mdx, interactions/application-commands.mdx).
 */
import type { CommandStore } from './discord-commands.js';
import { discordErrors, fieldError } from './discord-errors.js';
import { MessageFlag, length, parseMessageInput } from './discord-limits.js';
import { type RouteDef, noContent, ok, route } from './discord-router.js';
import type { ChannelRecord, DiscordState } from './discord-state.js';

export interface RouteEnv {
  state: DiscordState;
  commands: CommandStore;
  applicationId: string;
}

/** threads.mdx: auto_archive_duration is one of 60, 1440, 4320, 10080 minutes. */
export const AUTO_ARCHIVE_DURATIONS = [60, 1440, 4320, 10080] as const;
/** channel.mdx "Start Thread from Message": name 1–100 characters. */
const THREAD_NAME_MAX = 100;

/** Flags a bot may set when creating a message (message.mdx "Create Message"). */
const CREATE_FLAGS = MessageFlag.SuppressEmbeds | MessageFlag.SuppressNotifications | MessageFlag.IsComponentsV2;
/** Edit Message: only SUPPRESS_EMBEDS can change (IS_COMPONENTS_V2 can be set, not cleared). */
const EDIT_FLAGS = MessageFlag.SuppressEmbeds | MessageFlag.IsComponentsV2;

type Json = Record<string, unknown>;
const asObject = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});

export function channelRoutes(env: RouteEnv): RouteDef[] {
  const { state } = env;
  const bot = state.botUser;

  const checkApp = (id: string | undefined) => {
    if (id !== env.applicationId) throw discordErrors.missingAccess();
  };

  const threadOptions = (body: Json, parent: ChannelRecord) => {
    const name = body.name;
    if (typeof name !== 'string' || length(name) < 1 || length(name) > THREAD_NAME_MAX) {
      throw fieldError(['name'], 'BASE_TYPE_BAD_LENGTH', `Must be between 1 and ${THREAD_NAME_MAX} in length.`);
    }
    const duration = body.auto_archive_duration ?? 1440;
    if (!AUTO_ARCHIVE_DURATIONS.includes(duration as 60)) {
      throw fieldError(['auto_archive_duration'], 'BASE_TYPE_CHOICES', `Value must be one of {${AUTO_ARCHIVE_DURATIONS.join(', ')}}.`);
    }
    if (parent.type !== 0) throw discordErrors.wrongChannelType();
    return { name, duration: duration as number };
  };

  const createThread = (id: string, parent: ChannelRecord, name: string, duration: number): ChannelRecord => {
    const now = state.clock.now();
    const thread: ChannelRecord = {
      id,
      type: 11,
      guildId: parent.guildId,
      name,
      topic: null,
      parentId: parent.id,
      lastMessageId: null,
      thread: { archived: false, locked: false, autoArchiveDuration: duration, archiveTimestamp: now, createTimestamp: now, lastActivityAt: now, ownerId: bot.id, messageCount: 0 },
    };
    state.channels.set(id, thread);
    return thread;
  };

  return [
    route('GET /users/@me', () => ok(state.userJson(bot.id))),

    route('GET /channels/:channel_id', ({ params }) => ok(state.channelJson(state.channelOr404(params.channel_id!)))),

    route('PATCH /channels/:channel_id', ({ params, body }) => {
      const ch = state.channelOr404(params.channel_id!);
      const b = asObject(body);
      if (typeof b.name === 'string' && (length(b.name) < 1 || length(b.name) > 100)) {
        throw fieldError(['name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
      }
      const t = ch.thread;
      if (t) {
        // threads.mdx: an archived thread only accepts being unarchived (optionally with other changes).
        if (t.archived && b.archived !== false) throw discordErrors.threadArchived();
        if (b.auto_archive_duration !== undefined) {
          if (!AUTO_ARCHIVE_DURATIONS.includes(b.auto_archive_duration as 60)) {
            throw fieldError(['auto_archive_duration'], 'BASE_TYPE_CHOICES', `Value must be one of {${AUTO_ARCHIVE_DURATIONS.join(', ')}}.`);
          }
          t.autoArchiveDuration = b.auto_archive_duration as number;
        }
        if (typeof b.locked === 'boolean') t.locked = b.locked;
        if (typeof b.archived === 'boolean' && b.archived !== t.archived) {
          t.archived = b.archived;
          t.archiveTimestamp = state.clock.now();
          if (!b.archived) t.lastActivityAt = state.clock.now();
        }
      } else if (typeof b.topic === 'string' || b.topic === null) {
        ch.topic = b.topic as string | null;
      }
      if (typeof b.name === 'string') ch.name = b.name;
      return ok(state.channelJson(ch));
    }),

    route('GET /channels/:channel_id/messages', ({ params, query }) => {
      const ch = state.channelOr404(params.channel_id!);
      const limit = Math.min(100, Math.max(1, Number(query.get('limit') ?? 50)));
      const list = [...state.messages.values()].filter((m) => m.channelId === ch.id && !m.deleted && (m.flags & MessageFlag.Ephemeral) === 0);
      return ok(
        list
          .reverse()
          .slice(0, limit)
          .map((m) => state.messageJson(m)),
      );
    }),

    route('POST /channels/:channel_id/messages', ({ params, body }) => {
      const ch = state.channelOr404(params.channel_id!);
      const input = parseMessageInput(body, CREATE_FLAGS);
      if (input.replyTo !== undefined) state.messageOr404(ch, input.replyTo);
      const rec = state.createMessage(ch, input, { authorId: bot.id, source: 'bot' });
      return ok(state.messageJson(rec));
    }),

    route('GET /channels/:channel_id/messages/:message_id', ({ params }) => {
      const ch = state.channelOr404(params.channel_id!);
      return ok(state.messageJson(state.messageOr404(ch, params.message_id!)));
    }),

    route('PATCH /channels/:channel_id/messages/:message_id', ({ params, body }) => {
      const ch = state.channelOr404(params.channel_id!);
      const rec = state.messageOr404(ch, params.message_id!);
      if (rec.authorId !== bot.id) throw discordErrors.notAuthor();
      const input = parseMessageInput(body, EDIT_FLAGS);
      return ok(state.messageJson(state.editMessage(ch, rec, input)));
    }),

    route('DELETE /channels/:channel_id/messages/:message_id', ({ params }) => {
      const ch = state.channelOr404(params.channel_id!);
      const rec = state.messageOr404(ch, params.message_id!);
      // Deleting other users' messages needs MANAGE_MESSAGES, which the fake bot does not hold.
      if (rec.authorId !== bot.id) throw discordErrors.missingPermissions();
      state.assertEditable(ch);
      rec.deleted = true;
      return noContent();
    }),

    route('POST /channels/:channel_id/messages/:message_id/threads', ({ params, body }) => {
      const parent = state.channelOr404(params.channel_id!);
      const starter = state.messageOr404(parent, params.message_id!);
      const { name, duration } = threadOptions(asObject(body), parent);
      // channel.mdx: one thread per message; the thread id is the starter message id.
      if (starter.threadId !== null || state.channels.has(starter.id)) throw discordErrors.threadAlreadyCreated();
      const thread = createThread(starter.id, parent, name, duration);
      starter.threadId = thread.id;
      starter.flags |= MessageFlag.HasThread;
      return ok(state.channelJson(thread), 201);
    }),

    route('POST /channels/:channel_id/threads', ({ params, body }) => {
      const parent = state.channelOr404(params.channel_id!);
      const b = asObject(body);
      const { name, duration } = threadOptions(b, parent);
      if (b.type !== undefined && b.type !== 11) throw fieldError(['type'], 'BASE_TYPE_CHOICES', 'Only public threads (11) are modelled by the fake.');
      return ok(state.channelJson(createThread(state.ids.next(), parent, name, duration)), 201);
    }),

    // guild.mdx "Get Guild Member": 10007 Unknown Member once they left.
    route('GET /guilds/:guild_id/members/:user_id', ({ params }) => {
      const member = state.guildOr404(params.guild_id!).members.get(params.user_id!);
      if (!member) throw discordErrors.unknownMember();
      return ok({
        user: state.userJson(member.userId),
        nick: member.nick,
        roles: [...member.roles],
        joined_at: new Date(member.joinedAt).toISOString(),
        deaf: false,
        mute: false,
        flags: 0,
      });
    }),

    route('GET /applications/:application_id/commands', ({ params }) => {
      checkApp(params.application_id);
      return ok(env.commands.list(null));
    }),

    route('PUT /applications/:application_id/commands', ({ params, body }) => {
      checkApp(params.application_id);
      return ok(env.commands.overwrite(null, body));
    }),

    route('GET /applications/:application_id/guilds/:guild_id/commands', ({ params }) => {
      checkApp(params.application_id);
      state.guildOr404(params.guild_id!);
      return ok(env.commands.list(params.guild_id!));
    }),

    route('PUT /applications/:application_id/guilds/:guild_id/commands', ({ params, body }) => {
      checkApp(params.application_id);
      state.guildOr404(params.guild_id!);
      return ok(env.commands.overwrite(params.guild_id!, body));
    }),
  ];
}
