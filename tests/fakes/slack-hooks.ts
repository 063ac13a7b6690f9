/**
 * response_url hooks. Slack: "respond to a user's command up to 5 times
 * within 30 minutes" (slash-command docs); the same applies to block_actions.
 * Bolt's respond() POSTs JSON and throws on any non-2xx answer.
 */
import { checkMessageContent } from './slack-limits.js';
import { jsonArray } from './slack-http.js';
import type { Hook, SlackState } from './slack-state.js';
import type { FakeEphemeral, FakeMessage, FakeResponse, SlackBlock } from './slack-types.js';

export const RESPONSE_URL_MAX_USES = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60_000;

export interface HookAnswer {
  status: number;
  body: { ok: boolean; error?: string };
  teamId?: string;
}

const reject = (status: number, error: string, teamId?: string): HookAnswer => ({
  status,
  body: { ok: false, error },
  ...(teamId ? { teamId } : {}),
});

const truthy = (v: unknown): boolean => v === true || v === 'true';

export function answerHook(state: SlackState, hookId: string, payload: unknown): HookAnswer {
  const hook = state.hooks.get(hookId);
  // Unknown and spent URLs both answer 404; the body wording is not documented.
  if (!hook) return reject(404, 'no_service');
  const expired = state.now() - hook.createdAt > RESPONSE_URL_TTL_MS;
  if (expired || hook.uses >= RESPONSE_URL_MAX_USES) return reject(404, 'expired_url', hook.teamId);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return reject(400, 'invalid_payload', hook.teamId);
  }
  const body = payload as Record<string, unknown>;
  const original = hook.messageTs === undefined ? undefined : state.findMessage(hook.channel, hook.messageTs);

  let action: FakeResponse['action'];
  if (truthy(body.delete_original)) {
    if (original) state.deleteMessage(original);
    else if (hook.lastEphemeral && !hook.lastEphemeral.deleted) hook.lastEphemeral.deleted = true;
    else return reject(404, 'message_not_found', hook.teamId);
    action = 'delete_original';
  } else {
    const blocks = jsonArray(body, 'blocks');
    if (!blocks.ok) return reject(400, 'invalid_blocks_format', hook.teamId);
    const text = typeof body.text === 'string' ? body.text : undefined;
    const newBlocks = (blocks.value ?? []) as SlackBlock[];
    const check = checkMessageContent({ text, blocks: newBlocks });
    if (!check.ok) return reject(400, check.error, hook.teamId);
    action = applyContent(state, hook, body, original, check.text, newBlocks);
  }

  hook.uses += 1;
  state.responses.push({
    hookId: hook.id,
    url: hook.url,
    teamId: hook.teamId,
    channel: hook.channel,
    body: structuredClone(body),
    action,
    at: state.now(),
  });
  return { status: 200, body: { ok: true }, teamId: hook.teamId };
}

function applyContent(state: SlackState, hook: Hook, body: Record<string, unknown>, original: FakeMessage | undefined, text: string, blocks: SlackBlock[]): FakeResponse['action'] {
  if (truthy(body.replace_original)) {
    // replace_original replaces the whole message: omitted blocks mean none.
    if (original) {
      state.editMessage(original, text, blocks);
      return 'replace_original';
    }
    const last = hook.lastEphemeral;
    if (last && !last.deleted) {
      last.text = text;
      last.blocks = blocks;
      last.replaced = true;
      return 'replace_original';
    }
  }
  const team = state.team(hook.teamId);
  if (body.response_type === 'in_channel') {
    const message: FakeMessage = {
      teamId: hook.teamId,
      channel: hook.channel,
      ts: state.nextTs(),
      text,
      blocks,
      user: team.botUserId,
      botId: team.botId,
      replyBroadcast: false,
      edits: [],
      postedAt: state.now(),
      source: 'response_url',
    };
    state.addMessage(message);
    return 'in_channel';
  }
  const ephemeral: FakeEphemeral = {
    teamId: hook.teamId,
    channel: hook.channel,
    user: hook.userId,
    ts: state.nextTs(),
    text,
    blocks,
    at: state.now(),
    source: 'response_url',
  };
  state.ephemerals.push(ephemeral);
  hook.lastEphemeral = ephemeral;
  return 'ephemeral';
}
