import type { FakeSocketMode } from './slack-socket.js';

/**
 * Records and options of the fake Slack Web API. Everything the inspection
 * API hands out is a copy: mutating it never changes the fake's state.
 */

/** A Slack Block Kit block as the client sent it (already JSON-parsed). */
export type SlackBlock = Record<string, unknown>;

/** Arguments of one Web API call after form/JSON decoding. */
export type SlackArgs = Record<string, unknown>;

export interface FakeTeamOptions {
  teamId: string;
  botToken: string;
  enterpriseId?: string;
  /** Workspace name shown by `auth.test`; defaults to `Workspace <teamId>`. */
  name?: string;
  /** Subdomain used in `auth.test`'s url and permalinks; defaults to the team id lower-cased. */
  domain?: string;
  botUserId?: string;
  botId?: string;
}

/** A workspace the fake knows, with its bot identity. */
export interface FakeTeam {
  readonly teamId: string;
  readonly botToken: string;
  readonly enterpriseId: string | undefined;
  readonly name: string;
  readonly domain: string;
  readonly botUserId: string;
  readonly botId: string;
}

/**
 * Token bucket for one (team, method) pair, or (team, method, channel) when
 * `scope` is `'channel'`. `burst` is the bucket size, `perMinute` the refill rate.
 */
export interface RateLimit {
  perMinute: number;
  burst: number;
  scope: 'team' | 'channel';
}

export interface FakeSlackOptions {
  /** Workspaces; default one team `T0000000001` with token `xoxb-test-token`. */
  teams?: FakeTeamOptions[];
  /** Per-method limits merged over the defaults; `null` removes a default limit. */
  rateLimits?: Record<string, RateLimit | null>;
  /** Base clock in ms since the epoch; `advance()` adds to it. Default `Date.now`. */
  now?: () => number;
  /** The app id reported on bot messages and views. Default `A0000000001`. */
  appId?: string;
  /** The app-level token Socket Mode accepts. Default `DEFAULT_APP_TOKEN`. */
  appToken?: string;
  /** Socket Mode timings (server pings, how long a told-to-go connection may linger). */
  socketMode?: { pingIntervalMs?: number; closeAfterDisconnectMs?: number };
}

export interface FakeEdit {
  text: string;
  blocks: SlackBlock[];
  at: number;
}

export interface FakeMessage {
  teamId: string;
  channel: string;
  ts: string;
  /** Parent ts for a thread reply; absent on top-level messages. */
  threadTs?: string;
  text: string;
  blocks: SlackBlock[];
  attachments?: unknown[];
  metadata?: unknown;
  user: string;
  botId: string;
  replyBroadcast: boolean;
  /** One entry per successful `chat.update` (or response_url replace), oldest first. */
  edits: FakeEdit[];
  postedAt: number;
  /** How the message got there. */
  source: 'chat.postMessage' | 'response_url';
}

export interface FakeEphemeral {
  teamId: string;
  channel: string;
  user: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks: SlackBlock[];
  at: number;
  source: 'chat.postEphemeral' | 'response_url';
  /** Set when a later response_url post replaced or deleted it. */
  replaced?: boolean;
  deleted?: boolean;
}

export interface FakeResponse {
  hookId: string;
  url: string;
  teamId: string;
  channel: string;
  body: Record<string, unknown>;
  /** What the fake did with the post. */
  action: 'ephemeral' | 'in_channel' | 'replace_original' | 'delete_original';
  at: number;
}

export interface FakeView {
  id: string;
  teamId: string;
  userId: string;
  triggerId: string;
  externalId?: string;
  hash: string;
  view: Record<string, unknown>;
  openedAt: number;
  /** Every view body accepted, `views.open` first. */
  history: Array<{ view: Record<string, unknown>; at: number }>;
}

export interface FakeCall {
  /** Web API method name, or `response_url` for posts to a hook. */
  method: string;
  teamId?: string;
  ok: boolean;
  error?: string;
  status: number;
  at: number;
  args: SlackArgs;
}

/** What `failNext` makes the next call(s) of a method answer. */
export interface InjectedFailure {
  /** HTTP status; 429 adds `Retry-After`. Default 200. */
  status?: number;
  /** `error` field of the body; default `ratelimited` for 429, else `internal_error`. */
  error?: string;
  /** Seconds for `Retry-After` on a 429. Default 1. */
  retryAfter?: number;
}

export interface ChannelOptions {
  /** Whether the bot is in the channel. Default true. */
  member?: boolean;
  isPrivate?: boolean;
  name?: string;
}

export interface UserOptions {
  name: string;
  realName?: string;
  displayName?: string;
  locale?: string;
  tz?: string;
}

export interface ResponseUrlOptions {
  teamId?: string;
  /** Channel the command or click came from. Default `C0000000001`. */
  channel?: string;
  /** User who sees ephemeral responses. Default `U0000000001`. */
  userId?: string;
  /** ts of the channel message holding the clicked button, for `replace_original`/`delete_original`. */
  messageTs?: string;
}

export interface FakeSlack {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** `${origin}/api/`: pass as `slackApiUrl`. */
  readonly url: string;
  /** Socket Mode: connections, envelopes and acks, disconnects. */
  readonly socket: FakeSocketMode;
  readonly teams: readonly FakeTeam[];
  /** The team with that id, or the first team. Throws for an unknown id. */
  team(teamId?: string): FakeTeam;

  now(): number;
  advance(ms: number): void;

  addChannel(teamId: string, channelId: string, options?: ChannelOptions): void;
  addUser(teamId: string, userId: string, options: UserOptions): void;
  /** Adds a user who tells no locale, unless the team has them already (a person who types a command exists). */
  ensureUser(teamId: string, userId: string): void;
  /** Deactivates a user: users.info then says `deleted: true`. */
  deactivateUser(teamId: string, userId: string): void;
  addUserGroup(teamId: string, groupId: string, userIds: string[]): void;
  /** A trigger_id as Slack puts in a slash command or click; valid for 3 s of fake time. */
  issueTriggerId(options?: { teamId?: string; userId?: string }): string;
  /** A response_url as Slack puts in a slash command or click. */
  newResponseUrl(options?: ResponseUrlOptions): string;

  setRateLimit(method: string, limit: RateLimit | null): void;
  /** Makes the next `times` calls of `method` (or `'response_url'`, for any hook) fail as described. */
  failNext(method: string, failure: InjectedFailure, times?: number): void;
  /**
   * Every Web API call (Socket Mode's apps.connections.open excepted) answers `failure` until
   * called again with null: an outage (status 503) or a long rate limit (429 with retryAfter).
   */
  outage(failure: InjectedFailure | null): void;

  /** Channel messages (top-level and replies) in ts order, optionally for one channel. */
  messages(channel?: string): FakeMessage[];
  /** Replies in a thread, without the parent, in ts order. */
  replies(channel: string, threadTs: string): FakeMessage[];
  message(channel: string, ts: string): FakeMessage | undefined;
  ephemerals(): FakeEphemeral[];
  responses(): FakeResponse[];
  views(): FakeView[];
  calls(): FakeCall[];
  rateLimitedCount(method?: string): number;

  /** Polls `predicate` every 10 ms until it returns a truthy value, which is returned. */
  waitFor<T>(predicate: () => T | Promise<T>, timeoutMs?: number): Promise<NonNullable<T>>;
  /**
   * Forgets everything the API produced (messages, ephemerals, responses,
   * views, calls, triggers, response URLs, rate-limit buckets, injected
   * failures). Teams, channels, users, user groups, rate-limit settings and
   * the clock are kept.
   */
  reset(): void;
  close(): Promise<void>;
}
