/**
 * The fake's state: the directory (teams, channels, users, user groups) and
 * everything the API produced (messages, ephemerals, views, responses, calls).
 */
import { randomBytes } from 'node:crypto';
import type { FakeCall, FakeEphemeral, FakeMessage, FakeResponse, FakeTeam, FakeView, SlackBlock } from './slack-types.js';

export const DEFAULT_CHANNEL_ID = 'C0000000001';
export const DEFAULT_USER_ID = 'U0000000001';

export interface Channel {
  id: string;
  name: string;
  isPrivate: boolean;
  /** Workspaces the channel belongs to (more than one: a shared channel) and bot membership in each. */
  teams: Map<string, { member: boolean }>;
}

export interface UserRecord {
  id: string;
  teamId: string;
  name: string;
  realName: string;
  displayName: string;
  /** Unset: Slack has no locale to tell for this user. */
  locale: string | undefined;
  tz: string;
  /** Deactivated: users.info says `deleted: true`. */
  deleted?: boolean;
}

export interface TriggerRecord {
  teamId: string;
  userId: string;
  issuedAt: number;
  used: boolean;
}

export interface Hook {
  id: string;
  url: string;
  teamId: string;
  channel: string;
  userId: string;
  messageTs: string | undefined;
  createdAt: number;
  uses: number;
  /** The last ephemeral this hook posted: what `replace_original` replaces without a `messageTs`. */
  lastEphemeral: FakeEphemeral | undefined;
}

export type Access = { ok: true; channel: Channel } | { ok: false; error: string };

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function randomId(prefix: string, length = 10): string {
  const bytes = randomBytes(length);
  let id = prefix;
  for (const b of bytes) id += ALNUM[b % ALNUM.length];
  return id;
}

export class SlackState {
  readonly teams = new Map<string, FakeTeam>();
  readonly byToken = new Map<string, FakeTeam>();
  readonly channels = new Map<string, Channel>();
  readonly users = new Map<string, UserRecord>();
  readonly userGroups = new Map<string, string[]>();

  /** Keyed `${channel}|${ts}`; ts only grows, so insertion order is ts order. */
  readonly messages = new Map<string, FakeMessage>();
  ephemerals: FakeEphemeral[] = [];
  responses: FakeResponse[] = [];
  readonly views = new Map<string, FakeView>();
  readonly triggers = new Map<string, TriggerRecord>();
  readonly hooks = new Map<string, Hook>();
  calls: FakeCall[] = [];
  private lastTsMicros = 0;

  constructor(
    readonly now: () => number,
    readonly appId: string,
    teams: readonly FakeTeam[],
  ) {
    for (const team of teams) {
      if (this.teams.has(team.teamId)) throw new Error(`duplicate team ${team.teamId}`);
      if (this.byToken.has(team.botToken)) throw new Error(`duplicate bot token for ${team.teamId}`);
      this.teams.set(team.teamId, team);
      this.byToken.set(team.botToken, team);
    }
  }

  team(teamId: string): FakeTeam {
    const team = this.teams.get(teamId);
    if (!team) throw new Error(`fake Slack: unknown team ${teamId}`);
    return team;
  }

  /** Message ts: "<unix seconds>.<6 digits>", unique and strictly increasing. */
  nextTs(): string {
    const micros = Math.max(Math.floor(this.now()) * 1000, this.lastTsMicros + 1);
    this.lastTsMicros = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  }

  /**
   * Bots need membership for private channels; public channels accept posts
   * without joining (chat:write.public, docs.slack.dev/reference/scopes/chat:write.public).
   */
  channelAccess(team: FakeTeam, channelId: string | undefined): Access {
    const channel = channelId === undefined ? undefined : this.channels.get(channelId);
    const membership = channel?.teams.get(team.teamId);
    if (!channel || !membership) return { ok: false, error: 'channel_not_found' };
    if (channel.isPrivate && !membership.member) return { ok: false, error: 'not_in_channel' };
    return { ok: true, channel };
  }

  findMessage(channel: string, ts: string | undefined): FakeMessage | undefined {
    return ts === undefined ? undefined : this.messages.get(`${channel}|${ts}`);
  }

  addMessage(message: FakeMessage): void {
    this.messages.set(`${message.channel}|${message.ts}`, message);
  }

  deleteMessage(message: FakeMessage): void {
    this.messages.delete(`${message.channel}|${message.ts}`);
  }

  threadReplies(channel: string, threadTs: string): FakeMessage[] {
    return [...this.messages.values()].filter((m) => m.channel === channel && m.threadTs === threadTs);
  }

  editMessage(message: FakeMessage, text: string, blocks: SlackBlock[]): void {
    message.text = text;
    message.blocks = blocks;
    message.edits.push({ text, blocks, at: this.now() });
  }

  /** A user visible to `team`: its own, or one of the same Enterprise Grid org. */
  findUser(team: FakeTeam, userId: string | undefined): UserRecord | undefined {
    if (userId === undefined) return undefined;
    const own = this.users.get(`${team.teamId}|${userId}`);
    if (own || team.enterpriseId === undefined) return own;
    for (const other of this.teams.values()) {
      if (other.enterpriseId !== team.enterpriseId) continue;
      const user = this.users.get(`${other.teamId}|${userId}`);
      if (user) return user;
    }
    return undefined;
  }

  /** A message as the Web API returns it. */
  apiMessage(m: FakeMessage): Record<string, unknown> {
    const replies = m.threadTs === undefined ? this.threadReplies(m.channel, m.ts) : [];
    const lastEdit = m.edits.at(-1);
    return {
      type: 'message',
      ...(m.replyBroadcast ? { subtype: 'thread_broadcast' } : {}),
      text: m.text,
      ...(m.blocks.length > 0 ? { blocks: m.blocks } : {}),
      ...(m.attachments ? { attachments: m.attachments } : {}),
      ...(m.metadata !== undefined ? { metadata: m.metadata } : {}),
      user: m.user,
      bot_id: m.botId,
      app_id: this.appId,
      team: m.teamId,
      ts: m.ts,
      ...(m.threadTs !== undefined ? { thread_ts: m.threadTs, parent_user_id: m.user } : {}),
      ...(replies.length > 0 ? { thread_ts: m.ts, reply_count: replies.length, latest_reply: replies.at(-1)!.ts } : {}),
      ...(lastEdit ? { edited: { user: m.user, ts: `${Math.floor(lastEdit.at / 1000)}.000000` } } : {}),
    };
  }

  /** Forgets what the API produced; keeps the directory. */
  clearProduced(): void {
    this.messages.clear();
    this.ephemerals = [];
    this.responses = [];
    this.views.clear();
    this.triggers.clear();
    this.hooks.clear();
    this.calls = [];
  }
}
