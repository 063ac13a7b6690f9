/**
 * Builds and signs inbound Slack requests exactly as Slack does, so tests can
 * drive the real Bolt receiver with signature verification on.
 *
 * Signing: `X-Slack-Signature: v0=` + hex HMAC-SHA256(secret, `v0:${ts}:${rawBody}`)
 * with `X-Slack-Request-Timestamp: ts` in unix seconds (Slack "Verifying
 * requests from Slack"; Bolt Src `receivers/verify-request.ts`).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

export interface SlackSignedHeaders {
  'x-slack-request-timestamp': string;
  'x-slack-signature': string;
  'content-type': string;
}

export function signSlack(secret: string, rawBody: string, timestampSec: number = Math.floor(Date.now() / 1000)): SlackSignedHeaders {
  const ts = String(timestampSec);
  const signature = createHmac('sha256', secret).update(`v0:${ts}:${rawBody}`).digest('hex');
  return {
    'x-slack-request-timestamp': ts,
    'x-slack-signature': `v0=${signature}`,
    // Events API bodies are JSON; slash commands and interactivity are form-encoded.
    'content-type': rawBody.trimStart().startsWith('{') ? 'application/json' : 'application/x-www-form-urlencoded',
  };
}

/** A trigger_id shaped like Slack's (`<digits>.<digits>.<hex>`); not known to any fake. */
export function randomTriggerId(): string {
  const n = (digits: number): string => String(randomBytes(8).readBigUInt64BE() % 10n ** BigInt(digits)).padStart(digits, '0');
  return `${n(11)}.${n(9)}.${randomBytes(16).toString('hex')}`;
}

const DEFAULT_APP_ID = 'A0000000001';
const DEFAULT_VERIFICATION_TOKEN = 'verification-token';

export interface SlashCommandOptions {
  text: string;
  teamId: string;
  userId: string;
  userName?: string;
  channelId: string;
  channelName?: string;
  responseUrl: string;
  /** Default: a fresh random trigger_id (Slack always sends one). */
  triggerId?: string;
  enterpriseId?: string;
  enterpriseName?: string;
  command?: string;
  teamDomain?: string;
  apiAppId?: string;
  isEnterpriseInstall?: boolean;
  /** The deprecated verification token Slack still sends. */
  token?: string;
}

/** The raw `application/x-www-form-urlencoded` body of a slash command (Bolt Src `types/command/index.ts`). */
export function slashCommandBody(o: SlashCommandOptions): string {
  return new URLSearchParams(slashCommandFields(o)).toString();
}

/** The same fields as the JSON payload of a Socket Mode `slash_commands` envelope (every value a string). */
export function slashCommandPayload(o: SlashCommandOptions): Record<string, string> {
  return Object.fromEntries(slashCommandFields(o));
}

function slashCommandFields(o: SlashCommandOptions): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    ['token', o.token ?? DEFAULT_VERIFICATION_TOKEN],
    ['team_id', o.teamId],
    ['team_domain', o.teamDomain ?? 'testum'],
  ];
  if (o.enterpriseId !== undefined) {
    fields.push(['enterprise_id', o.enterpriseId], ['enterprise_name', o.enterpriseName ?? 'Testum Org']);
  }
  fields.push(
    ['channel_id', o.channelId],
    ['channel_name', o.channelName ?? 'general'],
    ['user_id', o.userId],
    ['user_name', o.userName ?? o.userId.toLowerCase()],
    ['command', o.command ?? '/testum'],
    ['text', o.text],
    ['api_app_id', o.apiAppId ?? DEFAULT_APP_ID],
    ['is_enterprise_install', String(o.isEnterpriseInstall ?? false)],
    ['response_url', o.responseUrl],
    ['trigger_id', o.triggerId ?? randomTriggerId()],
  );
  return fields;
}

export interface BlockActionsOptions {
  teamId: string;
  userId: string;
  userName?: string;
  channelId: string;
  channelName?: string;
  /** ts of the message holding the button. */
  messageTs: string;
  /** Parent ts when the message is a thread reply. */
  threadTs?: string;
  actionId: string;
  value?: string;
  /** Default: the block_id of the block in `message.blocks` that holds `actionId`, else `actions`. */
  blockId?: string;
  buttonText?: string;
  /** The message as Slack includes it (text, blocks, user, bot_id …); `ts` is filled in. */
  message?: Record<string, unknown>;
  responseUrl: string;
  triggerId?: string;
  enterpriseId?: string;
  teamDomain?: string;
  apiAppId?: string;
  isEnterpriseInstall?: boolean;
  token?: string;
  /** Default: now, as "<sec>.<6 digits>". */
  actionTs?: string;
}

function findBlockId(message: Record<string, unknown> | undefined, actionId: string): string | undefined {
  const blocks = Array.isArray(message?.blocks) ? (message.blocks as Array<Record<string, unknown>>) : [];
  for (const block of blocks) {
    const elements = Array.isArray(block.elements) ? (block.elements as Array<Record<string, unknown>>) : [];
    const accessory = block.accessory as Record<string, unknown> | undefined;
    if ([...elements, accessory].some((el) => el?.action_id === actionId) && typeof block.block_id === 'string') {
      return block.block_id;
    }
  }
  return undefined;
}

/** The block_actions payload of a button click (Bolt Src `types/actions/block-action.ts`). */
export function blockActionsPayload(o: BlockActionsOptions): Record<string, unknown> {
  const nowMs = Date.now();
  const actionTs = o.actionTs ?? `${Math.floor(nowMs / 1000)}.${String((nowMs % 1000) * 1000).padStart(6, '0')}`;
  return {
    type: 'block_actions',
    user: { id: o.userId, username: o.userName ?? o.userId.toLowerCase(), name: o.userName ?? o.userId.toLowerCase(), team_id: o.teamId },
    api_app_id: o.apiAppId ?? DEFAULT_APP_ID,
    token: o.token ?? DEFAULT_VERIFICATION_TOKEN,
    container: {
      type: 'message',
      message_ts: o.messageTs,
      channel_id: o.channelId,
      is_ephemeral: false,
      ...(o.threadTs !== undefined ? { thread_ts: o.threadTs } : {}),
    },
    trigger_id: o.triggerId ?? randomTriggerId(),
    team: { id: o.teamId, domain: o.teamDomain ?? 'testum', ...(o.enterpriseId ? { enterprise_id: o.enterpriseId } : {}) },
    enterprise: o.enterpriseId ? { id: o.enterpriseId, name: 'Testum Org' } : null,
    is_enterprise_install: o.isEnterpriseInstall ?? false,
    channel: { id: o.channelId, name: o.channelName ?? 'general' },
    message: {
      type: 'message',
      ...o.message,
      ts: o.messageTs,
      ...(o.threadTs !== undefined ? { thread_ts: o.threadTs } : {}),
    },
    state: { values: {} },
    response_url: o.responseUrl,
    actions: [
      {
        type: 'button',
        action_id: o.actionId,
        block_id: o.blockId ?? findBlockId(o.message, o.actionId) ?? 'actions',
        text: { type: 'plain_text', text: o.buttonText ?? o.actionId, emoji: true },
        ...(o.value !== undefined ? { value: o.value } : {}),
        action_ts: actionTs,
      },
    ],
  };
}

/** Raw body of a button click: the form field `payload=<JSON>` (Bolt parses it with querystring + JSON.parse). */
export function blockActionsBody(o: BlockActionsOptions): string {
  return new URLSearchParams({ payload: JSON.stringify(blockActionsPayload(o)) }).toString();
}

export interface PostSignedOptions {
  timestampSec?: number;
  /** Sent instead of the correct signature (negative tests). */
  signatureOverride?: string;
}

/** POSTs a signed body, as Slack would. `ms` is the time until the full response arrived. */
export async function postSignedSlack(url: string, rawBody: string, secret: string, options: PostSignedOptions = {}): Promise<{ status: number; body: string; ms: number }> {
  const headers: Record<string, string> = { ...signSlack(secret, rawBody, options.timestampSec) };
  if (options.signatureOverride !== undefined) headers['x-slack-signature'] = options.signatureOverride;
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers, body: rawBody });
  const body = await res.text();
  return { status: res.status, body, ms: performance.now() - started };
}

export interface ViewSubmissionOptions {
  teamId: string;
  userId: string;
  userName?: string;
  viewId: string;
  callbackId: string;
  privateMetadata?: string;
  /** block_id → value of the block's `value` input. */
  values: Record<string, string>;
  triggerId?: string;
  apiAppId?: string;
}

/** The view_submission payload of a modal's submit (Bolt Src `types/view/index.ts`). */
export function viewSubmissionBody(o: ViewSubmissionOptions): string {
  return `payload=${encodeURIComponent(JSON.stringify(viewSubmissionPayload(o)))}`;
}

/** The view_submission payload itself, as a Socket Mode `interactive` envelope carries it. */
export function viewSubmissionPayload(o: ViewSubmissionOptions): Record<string, unknown> {
  const values: Record<string, Record<string, { type: string; value: string }>> = {};
  for (const [block, value] of Object.entries(o.values)) values[block] = { value: { type: 'plain_text_input', value } };
  return {
    type: 'view_submission',
    team: { id: o.teamId, domain: 'testum' },
    user: { id: o.userId, username: o.userName ?? o.userId.toLowerCase(), name: o.userName ?? o.userId.toLowerCase(), team_id: o.teamId },
    api_app_id: o.apiAppId ?? DEFAULT_APP_ID,
    token: DEFAULT_VERIFICATION_TOKEN,
    trigger_id: o.triggerId ?? randomTriggerId(),
    view: {
      id: o.viewId,
      team_id: o.teamId,
      type: 'modal',
      callback_id: o.callbackId,
      private_metadata: o.privateMetadata ?? '',
      state: { values },
      hash: '1',
      title: { type: 'plain_text', text: 'testum' },
      blocks: [],
    },
  };
}
