import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, verifySlackRequest } from '@slack/bolt';
import slackWebApi from '@slack/web-api';
import type { Logger, WebClient as WebClientType } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blockActionsBody, postSignedSlack, signSlack, slashCommandBody } from '../helpers/slack-sign.js';
import { DEFAULT_CHANNEL_ID, startFakeSlack, type FakeSlack } from './slack-api.js';

// @slack/web-api is CommonJS: named imports fail at run time under ESM (deps.md P14).
const { WebClient, WebClientEvent, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIHTTPError, LogLevel } = slackWebApi;

const T1 = 'T0000000001';
const T2 = 'T0000000002';
const TOKEN1 = 'xoxb-test-token';
const TOKEN2 = 'xoxb-other-token';
/** The fake's clock stands still unless a test advances it, so bucket refills are deterministic. */
const START = Date.UTC(2025, 0, 15, 12, 0, 0);

/** A logger that keeps warnings and errors instead of printing them. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = (): void => {};
  return {
    warnings,
    debug: noop,
    info: noop,
    // WebClient passes each response_metadata warning as the first argument (via forEach).
    warn: (...msgs: unknown[]) => void warnings.push(String(msgs[0])),
    error: noop,
    setLevel: noop,
    getLevel: () => LogLevel.WARN,
    setName: noop,
  };
}

let fake: FakeSlack;

function client(token: string | undefined = TOKEN1, logger: Logger = recordingLogger()): WebClientType {
  return new WebClient(token, {
    slackApiUrl: fake.url,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    logger,
  });
}

/** The rejection of `promise`; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to be rejected');
}

async function platformError(promise: Promise<unknown>): Promise<string> {
  const err = await rejection(promise);
  if (!(err instanceof WebAPIPlatformError)) throw err;
  return err.data.error;
}

beforeEach(async () => {
  fake = await startFakeSlack({
    teams: [
      { teamId: T1, botToken: TOKEN1 },
      { teamId: T2, botToken: TOKEN2 },
    ],
    now: () => START,
  });
});

afterEach(async () => {
  await fake.close();
});

describe('fake Slack Web API driven by the real WebClient', () => {
  it('auth.test names the team and its bot', async () => {
    const res = await client().auth.test();
    expect(res.team_id).toBe(T1);
    expect(res.user_id).toBe(fake.team(T1).botUserId);
    expect(res.bot_id).toBe(fake.team(T1).botId);
    expect(fake.team(T2).botId).not.toBe(fake.team(T1).botId);
  });

  it('chat.postMessage stores text and blocks under a unique, increasing ts', async () => {
    const blocks = [{ type: 'section', block_id: 'b1', text: { type: 'mrkdwn', text: '*hello*' } }];
    const first = await client().chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'hello', blocks });
    const second = await client().chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'again' });

    expect(first.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));
    expect(first.message?.bot_id).toBe(fake.team(T1).botId);
    const stored = fake.message(DEFAULT_CHANNEL_ID, first.ts!);
    expect(stored).toMatchObject({ text: 'hello', blocks, teamId: T1, user: fake.team(T1).botUserId, edits: [] });
    expect(fake.messages(DEFAULT_CHANNEL_ID).map((m) => m.text)).toEqual(['hello', 'again']);
  });

  it('rejects unknown channels and private channels the bot is not in', async () => {
    fake.addChannel(T1, 'C0PRIVATE01', { isPrivate: true, member: false });
    fake.addChannel(T1, 'C0PUBLIC001', { member: false });

    expect(await platformError(client().chat.postMessage({ channel: 'C0NOPE00001', text: 'x' }))).toBe('channel_not_found');
    expect(await platformError(client().chat.postMessage({ channel: 'C0PRIVATE01', text: 'x' }))).toBe('not_in_channel');
    await client().chat.postMessage({ channel: 'C0PUBLIC001', text: 'public without joining' });
    expect(fake.messages().map((m) => m.channel)).toEqual(['C0PUBLIC001']);
  });

  it('thread replies need the ts of a top-level message', async () => {
    const web = client();
    const parent = await web.chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'parent' });
    const reply = await web.chat.postMessage({
      channel: DEFAULT_CHANNEL_ID,
      thread_ts: parent.ts!,
      text: 'done',
      reply_broadcast: true,
    });

    expect(reply.message?.thread_ts).toBe(parent.ts);
    expect(fake.replies(DEFAULT_CHANNEL_ID, parent.ts!)).toMatchObject([{ text: 'done', replyBroadcast: true }]);
    const thread = await web.conversations.replies({ channel: DEFAULT_CHANNEL_ID, ts: parent.ts! });
    expect(thread.messages?.map((m) => m.text)).toEqual(['parent', 'done']);
    expect(thread.messages?.[0]?.reply_count).toBe(1);

    const onReply = web.chat.postMessage({ channel: DEFAULT_CHANNEL_ID, thread_ts: reply.ts!, text: 'nested' });
    expect(await platformError(onReply)).toBe('thread_not_found');
    expect(fake.replies(DEFAULT_CHANNEL_ID, parent.ts!)).toHaveLength(1);
  });

  it('chat.update keeps blocks when omitted, clears them with [] and records each edit', async () => {
    const web = client();
    const blocks = [{ type: 'header', text: { type: 'plain_text', text: 'Job 1' } }];
    const posted = await web.chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'v1', blocks });

    fake.advance(1_000);
    await web.chat.update({ channel: DEFAULT_CHANNEL_ID, ts: posted.ts!, text: 'v2' });
    expect(fake.message(DEFAULT_CHANNEL_ID, posted.ts!)).toMatchObject({ text: 'v2', blocks });

    fake.advance(1_000);
    await web.chat.update({ channel: DEFAULT_CHANNEL_ID, ts: posted.ts!, text: 'v3', blocks: [] });
    const stored = fake.message(DEFAULT_CHANNEL_ID, posted.ts!);
    expect(stored?.blocks).toEqual([]);
    expect(stored?.edits).toEqual([
      { text: 'v2', blocks, at: START + 1_000 },
      { text: 'v3', blocks: [], at: START + 2_000 },
    ]);
  });

  it('chat.update of an unknown ts answers message_not_found', async () => {
    const err = await platformError(client().chat.update({ channel: DEFAULT_CHANNEL_ID, ts: '1700000000.000001', text: 'x' }));
    expect(err).toBe('message_not_found');
  });

  it("chat.update with another workspace's bot token answers cant_update_message", async () => {
    // DEFAULT_CHANNEL_ID is shared by both workspaces, so team 2 can see team 1's message.
    const posted = await client(TOKEN1).chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'mine' });
    const err = await platformError(client(TOKEN2).chat.update({ channel: DEFAULT_CHANNEL_ID, ts: posted.ts!, text: 'stolen' }));

    expect(err).toBe('cant_update_message');
    expect(fake.message(DEFAULT_CHANNEL_ID, posted.ts!)).toMatchObject({ text: 'mine', edits: [] });
    expect(fake.calls().at(-1)).toMatchObject({ method: 'chat.update', teamId: T2, ok: false, error: 'cant_update_message' });
  });

  it('an unknown token answers invalid_auth and a missing one not_authed', async () => {
    expect(await platformError(client('xoxb-wrong').chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'x' }))).toBe('invalid_auth');
    const anonymous = new WebClient(undefined, { slackApiUrl: fake.url, retryConfig: { retries: 0 }, logger: recordingLogger() });
    expect(await platformError(anonymous.chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'x' }))).toBe('not_authed');
    expect(fake.messages()).toEqual([]);
  });

  it('a section text over 3,000 characters is invalid_blocks', async () => {
    const section = (n: number) => ({ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(n) } });
    const err = await rejection(client().chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'big', blocks: [section(3_001)] }));

    expect(err).toBeInstanceOf(WebAPIPlatformError);
    const data = (err as InstanceType<typeof WebAPIPlatformError>).data;
    expect(data.error).toBe('invalid_blocks');
    expect(data.response_metadata?.messages).toEqual(['[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]']);
    expect(fake.messages()).toEqual([]);
    await client().chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'fits', blocks: [section(3_000)] });
    expect(fake.messages()).toHaveLength(1);
  });

  it('rejects duplicate block_ids and over-long button text', async () => {
    const dup = [
      { type: 'divider', block_id: 'a' },
      { type: 'divider', block_id: 'a' },
    ];
    const button = [{ type: 'actions', elements: [{ type: 'button', action_id: 'go', text: { type: 'plain_text', text: 'b'.repeat(76) } }] }];
    expect(await platformError(client().chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'x', blocks: dup }))).toBe('invalid_blocks');
    expect(await platformError(client().chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'x', blocks: button }))).toBe('invalid_blocks');
  });

  it('cumulative block text over 12,000 characters is msg_blocks_too_long', async () => {
    const sections = (count: number, size: number) => Array.from({ length: count }, () => ({ type: 'section', text: { type: 'plain_text', text: 'y'.repeat(size) } }));
    const preformatted = (size: number) => [
      {
        type: 'rich_text',
        elements: [{ type: 'rich_text_preformatted', elements: [{ type: 'text', text: 'z'.repeat(size) }] }],
      },
    ];
    const post = (blocks: unknown[]) => client().chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'tail', blocks: blocks as never });

    expect(await platformError(post(sections(5, 2_500)))).toBe('msg_blocks_too_long');
    expect(await platformError(post(preformatted(12_001)))).toBe('msg_blocks_too_long');
    await post(sections(4, 2_900));
    await post(preformatted(2_800));
    expect(fake.messages()).toHaveLength(2);
  });

  it('long top-level text: msg_too_long without blocks, truncated with a warning with blocks', async () => {
    const logger = recordingLogger();
    const web = client(TOKEN1, logger);
    expect(await platformError(web.chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'a'.repeat(4_001) }))).toBe('msg_too_long');

    const res = await web.chat.postMessage({
      channel: DEFAULT_CHANNEL_ID,
      text: 'a'.repeat(40_010),
      blocks: [{ type: 'divider' }],
    });
    expect(res.warning).toBe('message_truncated');
    expect(logger.warnings).toContain('message_truncated');
    expect(fake.message(DEFAULT_CHANNEL_ID, res.ts!)?.text).toHaveLength(40_000);
  });

  it('chat.postMessage beyond the per-channel burst gets a 429 the WebClient reports as rate-limited', async () => {
    const web = client();
    const seen: number[] = [];
    web.on(WebClientEvent.RATE_LIMITED, (retrySec: number) => seen.push(retrySec));
    for (let i = 0; i < 5; i++) await web.chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: `m${i}` });

    const err = await rejection(web.chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'one too many' }));
    expect(err).toBeInstanceOf(WebAPIRateLimitedError);
    expect((err as InstanceType<typeof WebAPIRateLimitedError>).retryAfter).toBe(1);
    expect(seen).toEqual([1]);
    expect(fake.rateLimitedCount('chat.postMessage')).toBe(1);
    expect(fake.calls().at(-1)).toMatchObject({ status: 429, error: 'ratelimited' });

    // Another channel has its own bucket; the first refills at 1 per second.
    fake.addChannel(T1, 'C0OTHER0001');
    await web.chat.postMessage({ channel: 'C0OTHER0001', text: 'elsewhere' });
    fake.advance(1_000);
    await web.chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'after refill' });
    expect(fake.messages(DEFAULT_CHANNEL_ID)).toHaveLength(6);
  });

  it('chat.update allows 50 per minute per workspace, counted across messages', async () => {
    const a = await client(TOKEN1).chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'a' });
    const b = await client(TOKEN1).chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'b' });
    const web = client(TOKEN1);
    for (let i = 0; i < 50; i++) {
      await web.chat.update({ channel: DEFAULT_CHANNEL_ID, ts: (i % 2 ? a : b).ts!, text: `edit ${i}` });
    }
    const err = await rejection(web.chat.update({ channel: DEFAULT_CHANNEL_ID, ts: a.ts!, text: 'edit 51' }));
    // One token comes back every 1.2 s; Retry-After is rounded up to whole seconds.
    expect((err as InstanceType<typeof WebAPIRateLimitedError>).retryAfter).toBe(2);

    // The other workspace has its own budget.
    const c = await client(TOKEN2).chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'c' });
    await client(TOKEN2).chat.update({ channel: DEFAULT_CHANNEL_ID, ts: c.ts!, text: 'c2' });
    expect(fake.rateLimitedCount()).toBe(1);
  });

  it('failNext injects a 429 with the given Retry-After and HTTP errors', async () => {
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 7 });
    fake.failNext('auth.test', { status: 503 });
    const limited = await rejection(client().chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'x' }));
    expect((limited as InstanceType<typeof WebAPIRateLimitedError>).retryAfter).toBe(7);
    const http = await rejection(client().auth.test());
    expect(http).toBeInstanceOf(WebAPIHTTPError);
    expect((http as InstanceType<typeof WebAPIHTTPError>).statusCode).toBe(503);
    await client().chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'x' });
    expect(fake.messages()).toHaveLength(1);
  });

  it('response_url accepts 5 posts, then answers 404; it also expires after 30 minutes', async () => {
    const url = fake.newResponseUrl({ teamId: T1, userId: 'U0CALLER001' });
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await post({ text: `r${i}` })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 404]);
    expect(fake.ephemerals().map((e) => [e.user, e.text])).toEqual([0, 1, 2, 3, 4].map((i) => ['U0CALLER001', `r${i}`]));

    const fresh = fake.newResponseUrl();
    fake.advance(30 * 60_000 + 1);
    const late = await fetch(fresh, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"late"}' });
    expect(late.status).toBe(404);
    expect(fake.responses()).toHaveLength(5);
  });

  it('response_url honours in_channel, replace_original and delete_original', async () => {
    const posted = await client().chat.postMessage({ channel: DEFAULT_CHANNEL_ID, text: 'approve?' });
    const url = fake.newResponseUrl({ messageTs: posted.ts! });
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    expect((await post({ replace_original: true, text: 'approved' })).status).toBe(200);
    expect(fake.message(DEFAULT_CHANNEL_ID, posted.ts!)).toMatchObject({ text: 'approved', edits: [{ text: 'approved' }] });
    await post({ response_type: 'in_channel', text: 'for everyone' });
    expect(fake.messages().map((m) => [m.text, m.source])).toEqual([
      ['approved', 'chat.postMessage'],
      ['for everyone', 'response_url'],
    ]);
    await post({ delete_original: true });
    expect(fake.message(DEFAULT_CHANNEL_ID, posted.ts!)).toBeUndefined();
    expect(fake.responses().map((r) => r.action)).toEqual(['replace_original', 'in_channel', 'delete_original']);
  });

  it('users.info returns locale only when include_locale is true', async () => {
    fake.addUser(T1, 'U0ALICE0001', { name: 'alice', realName: 'Alice Doe', locale: 'fr-FR', tz: 'Europe/Paris' });
    const web = client();

    const plain = await web.users.info({ user: 'U0ALICE0001' });
    expect(plain.user).toMatchObject({ id: 'U0ALICE0001', name: 'alice', real_name: 'Alice Doe', tz: 'Europe/Paris' });
    expect(plain.user?.locale).toBeUndefined();
    const withLocale = await web.users.info({ user: 'U0ALICE0001', include_locale: true });
    expect(withLocale.user?.locale).toBe('fr-FR');
    expect(await platformError(client(TOKEN2).users.info({ user: 'U0ALICE0001' }))).toBe('user_not_found');
  });

  it('usergroups.users.list lists the members of a known group only', async () => {
    fake.addUserGroup(T1, 'S0OPS000001', ['U0ALICE0001', 'U0BOB000001']);
    const res = await client().usergroups.users.list({ usergroup: 'S0OPS000001' });
    expect(res.users).toEqual(['U0ALICE0001', 'U0BOB000001']);
    expect(await platformError(client().usergroups.users.list({ usergroup: 'S0NOPE00001' }))).toBe('no_such_subteam');
  });

  it('views.open needs a trigger_id issued within 3 seconds, used once', async () => {
    const web = client();
    const view = {
      type: 'modal' as const,
      title: { type: 'plain_text' as const, text: 'Run a command' },
      submit: { type: 'plain_text' as const, text: 'Run' },
      blocks: [
        {
          type: 'input',
          block_id: 'cmd',
          label: { type: 'plain_text' as const, text: 'Command' },
          element: { type: 'plain_text_input' as const, action_id: 'value' },
        },
      ],
    };

    const stale = fake.issueTriggerId({ userId: 'U0ALICE0001' });
    fake.advance(3_001);
    expect(await platformError(web.views.open({ trigger_id: stale, view }))).toBe('expired_trigger_id');
    expect(await platformError(web.views.open({ trigger_id: '1.2.nope', view }))).toBe('invalid_trigger_id');

    const fresh = fake.issueTriggerId({ userId: 'U0ALICE0001' });
    const longTitle = { ...view, title: { type: 'plain_text' as const, text: 'x'.repeat(25) } };
    expect(await platformError(web.views.open({ trigger_id: fresh, view: longTitle }))).toBe('invalid_arguments');
    const opened = await web.views.open({ trigger_id: fresh, view });
    expect(opened.view?.id).toMatch(/^V/);
    expect(await platformError(web.views.open({ trigger_id: fresh, view }))).toBe('exchanged_trigger_id');

    await web.views.update({ view_id: opened.view!.id!, hash: opened.view!.hash!, view: { ...view, title: { type: 'plain_text', text: 'Done' } } });
    expect(fake.views()).toMatchObject([{ userId: 'U0ALICE0001', history: [{ view }, { view: { title: { text: 'Done' } } }] }]);
  });

  it('unknown methods answer unknown_method', async () => {
    expect(await platformError(client().apiCall('chat.frobnicate', {}))).toBe('unknown_method');
  });
});

describe('signed inbound requests', () => {
  const SECRET = 'test-signing-secret';

  it("signSlack produces headers Bolt's verifier accepts, and a tampered body fails", () => {
    const body = slashCommandBody({
      text: "run prod-db 'df -h'",
      teamId: T1,
      userId: 'U0ALICE0001',
      channelId: DEFAULT_CHANNEL_ID,
      responseUrl: fake.newResponseUrl(),
    });
    const headers = signSlack(SECRET, body);
    const verify = (raw: string) =>
      verifySlackRequest({
        signingSecret: SECRET,
        body: raw,
        headers: {
          'x-slack-signature': headers['x-slack-signature'],
          'x-slack-request-timestamp': Number(headers['x-slack-request-timestamp']),
        },
      });
    expect(() => verify(body)).not.toThrow();
    expect(() => verify(body.replace('df', 'rm'))).toThrow(/signature mismatch/);
    expect(new URLSearchParams(body).get('text')).toBe("run prod-db 'df -h'");
  });

  describe('through a real Bolt app', () => {
    let app: InstanceType<typeof App>;
    let endpoint: string;

    beforeEach(async () => {
      app = new App({
        token: TOKEN1,
        signingSecret: SECRET,
        clientOptions: { slackApiUrl: fake.url, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true },
        logger: recordingLogger(),
      });
      app.command('/testum', async ({ ack, command, respond, client: web }) => {
        await ack();
        await respond({ text: `queued: ${command.text}` });
        await web.chat.postMessage({
          channel: command.channel_id,
          text: 'approve?',
          blocks: [{ type: 'actions', block_id: 'approval', elements: [{ type: 'button', action_id: 'approve', value: 'job-1', text: { type: 'plain_text', text: 'Approve' } }] }],
        });
      });
      app.action('approve', async ({ ack, body, client: web }) => {
        await ack();
        if (body.type !== 'block_actions' || !body.channel || !body.message) throw new Error('unexpected payload');
        const action = body.actions[0];
        const value = action && 'value' in action ? action.value : undefined;
        await web.chat.update({ channel: body.channel.id, ts: body.message.ts, text: `approved ${value} by ${body.user.id}`, blocks: [] });
      });
      const server = (await app.start({ port: 0, host: '127.0.0.1' })) as Server;
      endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
      // Bolt fires auth.test from its constructor and does not await it in start().
      const authTest = await fake.waitFor(() => fake.calls().find((c) => c.method === 'auth.test'));
      expect(authTest).toMatchObject({ teamId: T1, ok: true });
    });

    afterEach(async () => {
      await app.stop();
    });

    it('a slash command and a button click reach the fake through Bolt', async () => {
      const command = slashCommandBody({
        text: 'run web-1 uptime',
        teamId: T1,
        userId: 'U0ALICE0001',
        channelId: DEFAULT_CHANNEL_ID,
        responseUrl: fake.newResponseUrl({ userId: 'U0ALICE0001' }),
        triggerId: fake.issueTriggerId(),
      });
      expect((await postSignedSlack(endpoint, command, SECRET)).status).toBe(200);
      const approval = await fake.waitFor(() => fake.messages().find((m) => m.text === 'approve?'));
      await fake.waitFor(() => fake.ephemerals().length === 1);
      expect(fake.ephemerals()[0]).toMatchObject({ user: 'U0ALICE0001', text: 'queued: run web-1 uptime', source: 'response_url' });

      const click = blockActionsBody({
        teamId: T1,
        userId: 'U0BOB000001',
        channelId: DEFAULT_CHANNEL_ID,
        messageTs: approval.ts,
        actionId: 'approve',
        value: 'job-1',
        message: { text: approval.text, blocks: approval.blocks },
        responseUrl: fake.newResponseUrl({ messageTs: approval.ts }),
      });
      expect((await postSignedSlack(endpoint, click, SECRET)).status).toBe(200);
      const updated = await fake.waitFor(() => fake.message(DEFAULT_CHANNEL_ID, approval.ts)?.edits[0]);
      expect(updated).toMatchObject({ text: 'approved job-1 by U0BOB000001', blocks: [] });
    });

    it('rejects a bad signature and a stale timestamp without calling the Web API', async () => {
      const body = slashCommandBody({
        text: 'run web-1 uptime',
        teamId: T1,
        userId: 'U0ALICE0001',
        channelId: DEFAULT_CHANNEL_ID,
        responseUrl: fake.newResponseUrl(),
      });
      const callsBefore = fake.calls().length;
      const forged = await postSignedSlack(endpoint, body, SECRET, { signatureOverride: `v0=${'0'.repeat(64)}` });
      const stale = await postSignedSlack(endpoint, body, SECRET, { timestampSec: Math.floor(Date.now() / 1000) - 301 });
      expect(forged.status).toBe(401);
      expect(stale.status).toBe(401);
      expect(fake.calls().length).toBe(callsBefore);
    });
  });
});
