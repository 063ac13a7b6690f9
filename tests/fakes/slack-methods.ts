/**
 * Web API methods of the fake. Each handler gets the authenticated team and
 * the decoded arguments and returns the JSON body Slack would send (HTTP 200).
 * Error codes are those listed on each method's docs.slack.dev reference page.
 */
import { randomBytes } from 'node:crypto';
import { checkMessageContent, checkView } from './slack-limits.js';
import { bool, jsonArray, jsonObject, str } from './slack-http.js';
import { randomId, type SlackState } from './slack-state.js';
import type { FakeMessage, FakeTeam, FakeView, SlackArgs, SlackBlock } from './slack-types.js';

export type MethodResult = { ok: boolean; error?: string; [key: string]: unknown };
export type Handler = (state: SlackState, team: FakeTeam, args: SlackArgs) => MethodResult;

/** A trigger_id may be exchanged within 3 s of the interaction (views.open reference). */
export const TRIGGER_TTL_MS = 3_000;

const fail = (error: string, extra: Record<string, unknown> = {}): MethodResult => ({ ok: false, error, ...extra });

/** Slack lists block problems both in `errors` and as `[ERROR]` response_metadata messages. */
const failWithMessages = (error: string, messages: string[] | undefined): MethodResult =>
  messages && messages.length > 0 ? fail(error, { errors: messages, response_metadata: { messages: messages.map((m) => `[ERROR] ${m}`) } }) : fail(error);

const withWarning = (result: MethodResult, warning: string | undefined): MethodResult => (warning ? { ...result, warning, response_metadata: { warnings: [warning] } } : result);

type Content = { ok: true; text: string | undefined; blocks: SlackBlock[] | undefined; attachments: unknown[] | undefined } | { ok: false; result: MethodResult };

function readContent(args: SlackArgs): Content {
  const blocks = jsonArray(args, 'blocks');
  if (!blocks.ok) return { ok: false, result: fail('invalid_blocks_format') };
  const attachments = jsonArray(args, 'attachments');
  if (!attachments.ok) return { ok: false, result: fail('invalid_attachments') };
  return {
    ok: true,
    text: str(args, 'text'),
    blocks: blocks.value as SlackBlock[] | undefined,
    attachments: attachments.value,
  };
}

const postMessage: Handler = (state, team, args) => {
  const access = state.channelAccess(team, str(args, 'channel'));
  if (!access.ok) return fail(access.error);
  const content = readContent(args);
  if (!content.ok) return content.result;
  const metadata = jsonObject(args, 'metadata');
  if (!metadata.ok) return fail('invalid_metadata_format');
  const channel = access.channel.id;
  const threadTs = str(args, 'thread_ts');
  if (threadTs !== undefined && threadTs !== '') {
    // thread_ts must name a parent, never a reply (chat.postMessage reference).
    const parent = state.findMessage(channel, threadTs);
    if (!parent || parent.threadTs !== undefined) return fail('thread_not_found');
  }
  const check = checkMessageContent(content);
  if (!check.ok) return failWithMessages(check.error, check.messages);
  const isReply = threadTs !== undefined && threadTs !== '';
  const message: FakeMessage = {
    teamId: team.teamId,
    channel,
    ts: state.nextTs(),
    ...(isReply ? { threadTs } : {}),
    text: check.text,
    blocks: content.blocks ?? [],
    ...(content.attachments ? { attachments: content.attachments } : {}),
    ...(metadata.value !== undefined ? { metadata: metadata.value } : {}),
    user: team.botUserId,
    botId: team.botId,
    replyBroadcast: isReply && bool(args, 'reply_broadcast'),
    edits: [],
    postedAt: state.now(),
    source: 'chat.postMessage',
  };
  state.addMessage(message);
  return withWarning({ ok: true, channel, ts: message.ts, message: state.apiMessage(message) }, check.warning);
};

const update: Handler = (state, team, args) => {
  const access = state.channelAccess(team, str(args, 'channel'));
  if (!access.ok) return fail(access.error);
  const message = state.findMessage(access.channel.id, str(args, 'ts'));
  if (!message) return fail('message_not_found');
  // "You can only update messages posted by the token's own identity" (chat.update reference).
  if (message.botId !== team.botId) return fail('cant_update_message');
  const content = readContent(args);
  if (!content.ok) return content.result;
  if (content.text === undefined && content.blocks === undefined && content.attachments === undefined) {
    return fail('no_text');
  }
  // Omitted blocks keep the old ones; `[]` clears them (docs.slack.dev/messaging/modifying-messages).
  const blocks = content.blocks ?? message.blocks;
  const check = checkMessageContent({
    text: content.text ?? message.text,
    blocks,
    attachments: content.attachments ?? message.attachments,
  });
  if (!check.ok) return failWithMessages(check.error, check.messages);
  if (content.attachments) message.attachments = content.attachments;
  state.editMessage(message, check.text, blocks);
  return withWarning({ ok: true, channel: message.channel, ts: message.ts, text: message.text, message: state.apiMessage(message) }, check.warning);
};

const postEphemeral: Handler = (state, team, args) => {
  const access = state.channelAccess(team, str(args, 'channel'));
  if (!access.ok) return fail(access.error);
  const user = str(args, 'user');
  if (!user) return fail('user_not_in_channel');
  const content = readContent(args);
  if (!content.ok) return content.result;
  const check = checkMessageContent(content);
  if (!check.ok) return failWithMessages(check.error, check.messages);
  const threadTs = str(args, 'thread_ts');
  const ts = state.nextTs();
  state.ephemerals.push({
    teamId: team.teamId,
    channel: access.channel.id,
    user,
    ts,
    ...(threadTs ? { threadTs } : {}),
    text: check.text,
    blocks: content.blocks ?? [],
    at: state.now(),
    source: 'chat.postEphemeral',
  });
  return withWarning({ ok: true, message_ts: ts }, check.warning);
};

const deleteMessage: Handler = (state, team, args) => {
  const access = state.channelAccess(team, str(args, 'channel'));
  if (!access.ok) return fail(access.error);
  const message = state.findMessage(access.channel.id, str(args, 'ts'));
  if (!message) return fail('message_not_found');
  if (message.botId !== team.botId) return fail('cant_delete_message');
  state.deleteMessage(message);
  return { ok: true, channel: message.channel, ts: message.ts };
};

const replies: Handler = (state, team, args) => {
  const access = state.channelAccess(team, str(args, 'channel'));
  if (!access.ok) return fail(access.error);
  const found = state.findMessage(access.channel.id, str(args, 'ts'));
  if (!found) return fail('thread_not_found');
  const parentTs = found.threadTs ?? found.ts;
  const parent = state.findMessage(access.channel.id, parentTs);
  const all = [...(parent ? [parent] : []), ...state.threadReplies(access.channel.id, parentTs)];
  const limit = Number(str(args, 'limit') ?? 1000) || 1000;
  return {
    ok: true,
    messages: all.slice(0, limit).map((m) => state.apiMessage(m)),
    has_more: all.length > limit,
    response_metadata: { next_cursor: '' },
  };
};

const history: Handler = (state, team, args) => {
  const access = state.channelAccess(team, str(args, 'channel'));
  if (!access.ok) return fail(access.error);
  const oldest = Number(str(args, 'oldest') ?? 0);
  const latest = Number(str(args, 'latest') ?? Number.POSITIVE_INFINITY);
  const limit = Number(str(args, 'limit') ?? 100) || 100;
  const visible = [...state.messages.values()]
    .filter((m) => m.channel === access.channel.id && (m.threadTs === undefined || m.replyBroadcast))
    .filter((m) => Number(m.ts) > oldest && Number(m.ts) < latest)
    .reverse();
  return {
    ok: true,
    messages: visible.slice(0, limit).map((m) => state.apiMessage(m)),
    has_more: visible.length > limit,
    pin_count: 0,
    response_metadata: { next_cursor: '' },
  };
};

const getPermalink: Handler = (state, team, args) => {
  const access = state.channelAccess(team, str(args, 'channel'));
  if (!access.ok) return fail(access.error);
  const message = state.findMessage(access.channel.id, str(args, 'message_ts'));
  if (!message) return fail('message_not_found');
  const base = `https://${team.domain}.slack.com/archives/${message.channel}/p${message.ts.replace('.', '')}`;
  const query = message.threadTs ? `?thread_ts=${message.threadTs}&cid=${message.channel}` : '';
  return { ok: true, channel: message.channel, permalink: base + query };
};

const authTest: Handler = (_state, team) => ({
  ok: true,
  url: `https://${team.domain}.slack.com/`,
  team: team.name,
  team_id: team.teamId,
  user: 'testum',
  user_id: team.botUserId,
  bot_id: team.botId,
  ...(team.enterpriseId ? { enterprise_id: team.enterpriseId } : {}),
  is_enterprise_install: false,
});

const usersInfo: Handler = (state, team, args) => {
  const user = state.findUser(team, str(args, 'user'));
  if (!user) return fail('user_not_found');
  return {
    ok: true,
    user: {
      id: user.id,
      team_id: user.teamId,
      name: user.name,
      deleted: user.deleted ?? false,
      real_name: user.realName,
      tz: user.tz,
      is_bot: false,
      profile: {
        display_name: user.displayName,
        display_name_normalized: user.displayName,
        real_name: user.realName,
        real_name_normalized: user.realName,
      },
      // Only with include_locale=true (users.info reference).
      ...(bool(args, 'include_locale') && user.locale !== undefined ? { locale: user.locale } : {}),
    },
  };
};

const usergroupUsers: Handler = (state, team, args) => {
  const users = state.userGroups.get(`${team.teamId}|${str(args, 'usergroup') ?? ''}`);
  return users ? { ok: true, users: [...users] } : fail('no_such_subteam');
};

/** usergroups.list: the team's groups; members only with include_users (usergroups.list reference). */
const usergroupsList: Handler = (state, team, args) => {
  const withUsers = bool(args, 'include_users');
  const usergroups = [...state.userGroups.entries()]
    .filter(([key]) => key.startsWith(`${team.teamId}|`))
    .map(([key, users]) => {
      const id = key.slice(team.teamId.length + 1);
      return { id, team_id: team.teamId, handle: id.toLowerCase(), name: id, user_count: users.length, ...(withUsers ? { users: [...users] } : {}) };
    });
  return { ok: true, usergroups };
};

function apiView(state: SlackState, team: FakeTeam, v: FakeView): Record<string, unknown> {
  return {
    ...v.view,
    id: v.id,
    team_id: v.teamId,
    state: { values: {} },
    hash: v.hash,
    previous_view_id: null,
    root_view_id: v.id,
    app_id: state.appId,
    app_installed_team_id: v.teamId,
    bot_id: team.botId,
    ...(v.externalId ? { external_id: v.externalId } : {}),
  };
}

type ViewArg = { ok: true; view: Record<string, unknown> } | { ok: false; result: MethodResult };

function readView(args: SlackArgs): ViewArg {
  const field = jsonObject(args, 'view');
  if (!field.ok || field.value === undefined) {
    return { ok: false, result: failWithMessages('invalid_arguments', ['must provide an object [json-pointer:/view]']) };
  }
  const problems = checkView(field.value);
  if (problems.length > 0) return { ok: false, result: failWithMessages('invalid_arguments', problems) };
  return { ok: true, view: field.value };
}

const newHash = (state: SlackState): string => `${Math.floor(state.now() / 1000)}.${randomBytes(4).toString('hex')}`;

const viewsOpen: Handler = (state, team, args) => {
  const triggerId = str(args, 'trigger_id') ?? str(args, 'interactivity_pointer');
  const trigger = triggerId === undefined ? undefined : state.triggers.get(triggerId);
  if (!triggerId || !trigger || trigger.teamId !== team.teamId) return fail('invalid_trigger_id');
  if (trigger.used) return fail('exchanged_trigger_id');
  if (state.now() - trigger.issuedAt > TRIGGER_TTL_MS) return fail('expired_trigger_id');
  const parsed = readView(args);
  if (!parsed.ok) return parsed.result;
  trigger.used = true;
  const externalId = typeof parsed.view.external_id === 'string' ? parsed.view.external_id : undefined;
  const view: FakeView = {
    id: randomId('V'),
    teamId: team.teamId,
    userId: trigger.userId,
    triggerId,
    ...(externalId ? { externalId } : {}),
    hash: newHash(state),
    view: parsed.view,
    openedAt: state.now(),
    history: [{ view: parsed.view, at: state.now() }],
  };
  state.views.set(view.id, view);
  return { ok: true, view: apiView(state, team, view) };
};

const viewsUpdate: Handler = (state, team, args) => {
  const viewId = str(args, 'view_id');
  const externalId = str(args, 'external_id');
  const found = [...state.views.values()].find((v) => v.teamId === team.teamId && (viewId ? v.id === viewId : externalId !== undefined && v.externalId === externalId));
  if (!found) return fail('not_found');
  const hash = str(args, 'hash');
  if (hash !== undefined && hash !== found.hash) return fail('hash_conflict');
  const parsed = readView(args);
  if (!parsed.ok) return parsed.result;
  found.view = parsed.view;
  found.hash = newHash(state);
  found.history.push({ view: parsed.view, at: state.now() });
  return { ok: true, view: apiView(state, team, found) };
};

export const METHODS: Readonly<Record<string, Handler>> = {
  'auth.test': authTest,
  'chat.postMessage': postMessage,
  'chat.update': update,
  'chat.postEphemeral': postEphemeral,
  'chat.delete': deleteMessage,
  'chat.getPermalink': getPermalink,
  'conversations.replies': replies,
  'conversations.history': history,
  'users.info': usersInfo,
  'usergroups.users.list': usergroupUsers,
  'usergroups.list': usergroupsList,
  'views.open': viewsOpen,
  'views.update': viewsUpdate,
};
