/**
 * The fake Discord REST API, driven by the real @discordjs/rest REST client and
 * @discordjs/core's http-only API, plus the Ed25519 signing helpers.
 */
import { createPublicKey, verify } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { API } from '@discordjs/core/http-only';
import { DiscordAPIError, REST, type RESTOptions, RateLimitError } from '@discordjs/rest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  autocompleteInteraction,
  commandInteraction,
  componentInteraction,
  createDiscordKeys,
  modalSubmitInteraction,
  pingInteraction,
  postSignedDiscord,
  signDiscord,
} from '../helpers/discord-sign.js';
import { type FakeDiscord, INTERACTION_TOKEN_LIFETIME_MS, startFakeDiscord } from './discord-api.js';

let discord: FakeDiscord;

function connect(options: Partial<RESTOptions> = {}, token = discord.botToken): API {
  return new API(new REST({ api: discord.api, version: '10', ...options }).setToken(token));
}

/** Resolves with what `promise` rejected with; fails the test if it resolved. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

async function apiError(promise: Promise<unknown>): Promise<DiscordAPIError> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(DiscordAPIError);
  return error as DiscordAPIError;
}

beforeEach(async () => {
  // A frozen clock: only advance() moves fake time, so deadlines and rate-limit windows are deterministic.
  discord = await startFakeDiscord({ frozenClock: true });
});

afterEach(async () => {
  await discord.close();
});

describe('messages and threads', () => {
  it('creates a full message object with a real-looking snowflake', async () => {
    const api = connect();
    const msg = await api.channels.createMessage(discord.channelId, { content: 'deploying', allowed_mentions: { parse: [] } });

    expect(msg.id).toMatch(/^\d{18,19}$/);
    expect(msg).toMatchObject({
      channel_id: discord.channelId,
      content: 'deploying',
      type: 0,
      author: { id: discord.botUserId, bot: true },
      edited_timestamp: null,
      pinned: false,
      tts: false,
      attachments: [],
      mentions: [],
      mention_roles: [],
      mention_everyone: false,
    });
    expect(discord.messages(discord.channelId).map((m) => m.id)).toEqual([msg.id]);
  });

  it('starts a thread whose id is the message id, once per message, and posts into it', async () => {
    const api = connect();
    const parent = await api.channels.createMessage(discord.channelId, { content: 'job 42' });
    const thread = await api.channels.createThread(discord.channelId, { name: 'job 42', auto_archive_duration: 1440 }, parent.id);

    expect(thread.id).toBe(parent.id);
    expect(thread).toMatchObject({ type: 11, parent_id: discord.channelId, thread_metadata: { archived: false, locked: false, auto_archive_duration: 1440 } });

    const again = await apiError(api.channels.createThread(discord.channelId, { name: 'again' }, parent.id));
    expect(again.code).toBe(160004);

    const live = await api.channels.createMessage(thread.id, { content: '```\n$ uptime\n```' });
    expect(live.channel_id).toBe(thread.id);
    expect(discord.messages(thread.id).map((m) => m.content)).toEqual(['```\n$ uptime\n```']);
    expect(discord.message(parent.id)?.thread?.id).toBe(thread.id);
  });

  it('rejects a bad auto_archive_duration with 50035', async () => {
    const api = connect();
    const parent = await api.channels.createMessage(discord.channelId, { content: 'x' });
    const error = await apiError(api.channels.createThread(discord.channelId, { name: 't', auto_archive_duration: 120 as 60 }, parent.id));
    expect(error.code).toBe(50035);
  });

  it('edits a message and keeps the edit history', async () => {
    const api = connect();
    const msg = await api.channels.createMessage(discord.channelId, { content: 'line 1' });
    const edited = await api.channels.editMessage(discord.channelId, msg.id, { content: 'line 1\nline 2' });

    expect(edited.content).toBe('line 1\nline 2');
    expect(edited.edited_timestamp).not.toBeNull();
    expect(discord.message(msg.id)?.edits.map((e) => e.content)).toEqual(['line 1\nline 2']);
  });

  it("refuses to edit a human's message (50005) and unknown messages (10008)", async () => {
    const api = connect();
    const humanMessage = discord.postUserMessage(discord.channelId, { userId: '123456789012345678', content: 'hi' });

    expect((await apiError(api.channels.editMessage(discord.channelId, humanMessage, { content: 'x' }))).code).toBe(50005);
    expect((await apiError(api.channels.editMessage(discord.channelId, '123456789012345678', { content: 'x' }))).code).toBe(10008);
    expect((await apiError(api.channels.createMessage('123456789012345678', { content: 'x' }))).code).toBe(10003);
  });

  it('enforces the 2,000-character content limit with 50035', async () => {
    const api = connect();
    await api.channels.createMessage(discord.channelId, { content: 'x'.repeat(2000) });
    const error = await apiError(api.channels.createMessage(discord.channelId, { content: 'x'.repeat(2001) }));

    expect(error.status).toBe(400);
    expect(error.code).toBe(50035);
    expect(error.rawError).toMatchObject({ errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH' }] } } });
    expect(discord.messages(discord.channelId)).toHaveLength(1);
  });

  it('enforces embed, component and empty-message rules', async () => {
    const api = connect();
    const tooLong = await apiError(api.channels.createMessage(discord.channelId, { embeds: [{ description: 'd'.repeat(4097) }] }));
    expect(tooLong.rawError).toMatchObject({ code: 50035, errors: { embeds: { 0: { description: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH' }] } } } } });

    const button = (id: string) => ({ type: 2, style: 1, label: id, custom_id: id });
    const duplicate = await apiError(api.channels.createMessage(discord.channelId, { components: [{ type: 1, components: [button('a'), button('a')] }] }));
    expect(duplicate.rawError).toMatchObject({ errors: { components: { 0: { components: { 1: { custom_id: { _errors: [{ code: 'COMPONENT_CUSTOM_ID_DUPLICATED' }] } } } } } } });

    const sixButtons = await apiError(api.channels.createMessage(discord.channelId, { components: [{ type: 1, components: ['a', 'b', 'c', 'd', 'e', 'f'].map(button) }] }));
    expect(sixButtons.code).toBe(50035);

    expect((await apiError(api.channels.createMessage(discord.channelId, { content: '' }))).code).toBe(50006);
  });

  it('refuses edits in an archived thread (50083); a new message unarchives it unless locked', async () => {
    const api = connect();
    const parent = await api.channels.createMessage(discord.channelId, { content: 'job' });
    const thread = await api.channels.createThread(discord.channelId, { name: 'job', auto_archive_duration: 60 }, parent.id);
    const live = await api.channels.createMessage(thread.id, { content: 'running' });

    await api.channels.edit(thread.id, { archived: true });
    const error = await apiError(api.channels.editMessage(thread.id, live.id, { content: 'done' }));
    expect(error.code).toBe(50083);
    expect(error.status).toBe(400);

    await api.channels.createMessage(thread.id, { content: 'status: ok' });
    expect(discord.channel(thread.id)).toMatchObject({ thread_metadata: { archived: false } });

    await api.channels.edit(thread.id, { archived: true, locked: true });
    expect((await apiError(api.channels.createMessage(thread.id, { content: 'more' }))).code).toBe(50083);
  });

  it('auto-archives a thread after auto_archive_duration minutes without messages', async () => {
    const api = connect();
    const parent = await api.channels.createMessage(discord.channelId, { content: 'job' });
    const thread = await api.channels.createThread(discord.channelId, { name: 'job', auto_archive_duration: 60 }, parent.id);
    const live = await api.channels.createMessage(thread.id, { content: 'running' });

    discord.advance(59 * 60_000);
    await api.channels.editMessage(thread.id, live.id, { content: 'still running' });
    discord.advance(60_000);
    expect((await apiError(api.channels.editMessage(thread.id, live.id, { content: 'late' }))).code).toBe(50083);
  });
});

describe('authorization and commands', () => {
  it('answers 401 to a wrong bot token, and REST then drops its token', async () => {
    const api = connect({}, 'wrong-token');
    const error = await apiError(api.channels.createMessage(discord.channelId, { content: 'x' }));

    expect(error.status).toBe(401);
    expect(error.rawError).toEqual({ message: '401: Unauthorized', code: 0 });
    expect(discord.invalidRequestCount()).toBe(1);
    // @discordjs/rest calls setToken(null) on a 401, so later calls fail locally.
    await expect(api.channels.createMessage(discord.channelId, { content: 'x' })).rejects.toThrow(/Expected token to be set/);
    expect(discord.requests()).toHaveLength(1);
  });

  it('bulk-overwrites commands idempotently: same ids and versions when run twice', async () => {
    const api = connect();
    const body = [
      {
        name: 'testum',
        description: 'Run commands on hosts',
        options: [
          { type: 1, name: 'run', description: 'Run a command', options: [{ type: 3, name: 'host', description: 'Host', required: true }] },
          { type: 2, name: 'job', description: 'Jobs', options: [{ type: 1, name: 'cancel', description: 'Cancel a job' }] },
        ],
      },
    ];
    const first = await api.applicationCommands.bulkOverwriteGlobalCommands(discord.applicationId, body);
    const second = await api.applicationCommands.bulkOverwriteGlobalCommands(discord.applicationId, body);

    expect(second).toEqual(first);
    expect(first[0]?.id).toMatch(/^\d{18,19}$/);
    expect(await api.applicationCommands.getGlobalCommands(discord.applicationId)).toEqual(first);

    const changed = await api.applicationCommands.bulkOverwriteGlobalCommands(discord.applicationId, [{ ...body[0]!, description: 'Run things' }]);
    expect(changed[0]?.id).toBe(first[0]?.id);
    expect(changed[0]?.version).not.toBe(first[0]?.version);
  });

  it('validates command names and option nesting', async () => {
    const api = connect();
    const upper = await apiError(api.applicationCommands.bulkOverwriteGuildCommands(discord.applicationId, discord.guildId, [{ name: 'Testum', description: 'x' }]));
    expect(upper.rawError).toMatchObject({ code: 50035, errors: { 0: { name: { _errors: [{ code: 'APPLICATION_COMMAND_INVALID_NAME' }] } } } });

    const mixed = await apiError(
      api.applicationCommands.bulkOverwriteGuildCommands(discord.applicationId, discord.guildId, [
        {
          name: 'testum',
          description: 'x',
          options: [
            { type: 1, name: 'run', description: 'r' },
            { type: 3, name: 'host', description: 'h' },
          ],
        },
      ]),
    );
    expect(mixed.code).toBe(50035);
    expect(discord.commands(discord.guildId)).toEqual([]);
  });
});

describe('rate limits', () => {
  beforeEach(() => {
    discord.setRouteLimit('POST /channels/:channel_id/messages', { limit: 2, windowMs: 1_000 });
  });

  async function exhaustMessageBucket(): Promise<void> {
    const other = connect();
    await other.channels.createMessage(discord.channelId, { content: '1' });
    await other.channels.createMessage(discord.channelId, { content: '2' });
  }

  it('sends bucket headers that REST uses to wait before the server has to say 429', async () => {
    const api = connect({ rejectOnRateLimit: ['/channels'] });
    await api.channels.createMessage(discord.channelId, { content: '1' });
    await api.channels.createMessage(discord.channelId, { content: '2' });

    const error = await rejection(api.channels.createMessage(discord.channelId, { content: '3' }));
    expect(error).toBeInstanceOf(RateLimitError);
    expect(discord.rateLimitedCount()).toBe(0);
    expect(discord.requests()).toHaveLength(2);
  });

  it('answers 429 to a client that did not see the bucket; rejectOnRateLimit turns it into RateLimitError', async () => {
    await exhaustMessageBucket();

    const error = await rejection(connect({ rejectOnRateLimit: ['/channels'] }).channels.createMessage(discord.channelId, { content: '3' }));
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ route: '/channels/:id/messages', global: false, scope: 'user', majorParameter: discord.channelId });
    expect(discord.rateLimitedCount()).toBe(1);
    expect(discord.invalidRequestCount()).toBe(1);
    expect(discord.messages(discord.channelId)).toHaveLength(2);
  });

  it('without rejectOnRateLimit, REST waits out the 429 and the request succeeds', async () => {
    await exhaustMessageBucket();

    const pending = connect().channels.createMessage(discord.channelId, { content: '3' });
    // REST sleeps X-RateLimit-Reset-After (1 s) of real time; let the frozen fake window end meanwhile.
    await discord.waitFor(() => discord.rateLimitedCount() === 1);
    discord.advance(1_000);
    const third = await pending;
    expect(third.content).toBe('3');
    const posts = discord.requests().filter((r) => r.route === 'POST /channels/:channel_id/messages');
    expect(posts.map((r) => r.status)).toEqual([200, 200, 429, 200]);
  });

  it('keeps one bucket per channel', async () => {
    const api = connect({ rejectOnRateLimit: ['/channels'] });
    const second = discord.createChannel(discord.guildId, { name: 'other' });
    for (const channel of [discord.channelId, discord.channelId, second, second]) {
      await api.channels.createMessage(channel, { content: 'x' });
    }
    expect(discord.messages()).toHaveLength(4);
    expect(discord.rateLimitedCount()).toBe(0);
  });

  it('injected failures: a 500 is retried by REST, an injected 429 counts as rate limited', async () => {
    const api = connect();
    discord.failNext({ method: 'POST', pathPattern: /\/messages$/ }, { status: 500 });
    const msg = await api.channels.createMessage(discord.channelId, { content: 'after retry' });
    expect(msg.content).toBe('after retry');
    expect(discord.requests().map((r) => r.status)).toEqual([500, 200]);

    discord.failNext({ method: 'PATCH', pathPattern: /\/messages\/\d+$/ }, { status: 429, retryAfter: 2 });
    const error = await rejection(connect({ rejectOnRateLimit: () => true }).channels.editMessage(discord.channelId, msg.id, { content: 'x' }));
    expect(error).toMatchObject({ retryAfter: 2050 });
    expect(discord.rateLimitedCount()).toBe(1);
  });
});

describe('interactions', () => {
  it('accepts one callback within 3 s; a second gets 40060', async () => {
    const api = connect();
    const { id, token } = discord.issueInteraction();
    const result = await api.interactions.reply(id, token, { content: 'queued', flags: 64, with_response: true });

    expect(result?.interaction).toMatchObject({ id, type: 2, response_message_ephemeral: true });
    expect(result?.resource?.message?.content).toBe('queued');
    expect(discord.callbacks()).toMatchObject([{ interactionId: id, type: 4 }]);
    expect((await apiError(api.interactions.reply(id, token, { content: 'again' }))).code).toBe(40060);
  });

  it('answers 10062 to a callback more than 3 s after the interaction', async () => {
    const api = connect();
    const { id, token } = discord.issueInteraction();
    discord.advance(3_001);
    const error = await apiError(api.interactions.defer(id, token));

    expect(error.code).toBe(10062);
    expect(error.status).toBe(404);
    expect(discord.callbacks()).toEqual([]);
  });

  it('lets the token edit @original for 15 minutes, then answers 50027', async () => {
    const api = connect();
    const { id, token } = discord.issueInteraction();
    await api.interactions.defer(id, token);
    const edited = await api.interactions.editReply(discord.applicationId, token, { content: 'started job 7' });
    expect(edited).toMatchObject({ content: 'started job 7', webhook_id: discord.applicationId, type: 20 });
    expect(discord.webhookMessages().map((m) => m.content)).toEqual(['started job 7']);

    discord.advance(INTERACTION_TOKEN_LIFETIME_MS + 1);
    const error = await apiError(api.interactions.editReply(discord.applicationId, token, { content: 'too late' }));
    expect(error.code).toBe(50027);
    expect(error.status).toBe(401);
  });

  it('updates the clicked message with callback type 7', async () => {
    const api = connect();
    const approval = await api.channels.createMessage(discord.channelId, {
      content: 'approve job 9?',
      components: [{ type: 1, components: [{ type: 2, style: 3, label: 'Approve', custom_id: 'approve:9' }] }],
    });
    const { id, token } = discord.issueInteraction({ type: 3, messageId: approval.id });
    await api.interactions.updateMessage(id, token, { content: 'approved by alice', components: [] });

    expect(discord.message(approval.id)).toMatchObject({ content: 'approved by alice', components: [] });
  });
});

describe('mentions', () => {
  it('records no ping when allowed_mentions is { parse: [] }', async () => {
    const api = connect();
    const msg = await api.channels.createMessage(discord.channelId, { content: '```\n@everyone <@123456789012345678>\n```', allowed_mentions: { parse: [] } });

    expect(msg.mention_everyone).toBe(false);
    expect(msg.mentions).toEqual([]);
    expect(discord.pings()).toEqual([]);
  });

  it('records a ping for @everyone without allowed_mentions, even inside a code block', async () => {
    const api = connect();
    const msg = await api.channels.createMessage(discord.channelId, { content: '```\n@everyone\n```' });

    expect(msg.mention_everyone).toBe(true);
    expect(discord.pings()).toMatchObject([{ messageId: msg.id, authorId: discord.botUserId, kind: 'create', everyone: true }]);
  });

  it('re-parses mentions on an edit that sends content without allowed_mentions, not on one that only changes components', async () => {
    const api = connect();
    const msg = await api.channels.createMessage(discord.channelId, {
      content: '@here job 3 done',
      allowed_mentions: { parse: [] },
      components: [{ type: 1, components: [{ type: 2, style: 1, label: 'Rerun', custom_id: 'rerun:3' }] }],
    });
    await api.channels.editMessage(discord.channelId, msg.id, { components: [] });
    expect(discord.pings()).toEqual([]);

    await api.channels.editMessage(discord.channelId, msg.id, { content: '@here job 3 done (edited)' });
    expect(discord.pings()).toMatchObject([{ messageId: msg.id, kind: 'edit', here: true }]);
  });

  it('pings only the listed users when allowed_mentions names them', async () => {
    const api = connect();
    const alice = '111111111111111111';
    const bob = '222222222222222222';
    discord.addMember(discord.guildId, alice, { username: 'alice' });
    await api.channels.createMessage(discord.channelId, { content: `<@${alice}> <@${bob}> approve?`, allowed_mentions: { users: [alice] } });

    expect(discord.pings()).toMatchObject([{ users: [alice], everyone: false }]);
  });
});

describe('signing helpers', () => {
  it('signs timestamp + body so that node:crypto verifies it, and a tampered body fails', () => {
    const keys = createDiscordKeys();
    const body = JSON.stringify({ type: 1 });
    const headers = signDiscord(keys.privateKey, body, 1_700_000_000);
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(keys.publicKeyHex, 'hex').toString('base64url') }, format: 'jwk' });
    const check = (raw: string) => verify(null, Buffer.from(headers['x-signature-timestamp'] + raw), publicKey, Buffer.from(headers['x-signature-ed25519'], 'hex'));

    expect(keys.publicKeyHex).toMatch(/^[0-9a-f]{64}$/);
    expect(headers['x-signature-timestamp']).toBe('1700000000');
    expect(check(body)).toBe(true);
    expect(check(JSON.stringify({ type: 2 }))).toBe(false);
  });

  it('posts signed bodies that a verifying endpoint accepts, and overridden signatures that it rejects', async () => {
    const keys = createDiscordKeys();
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const ok = verify(
          null,
          Buffer.concat([Buffer.from(String(req.headers['x-signature-timestamp'])), ...chunks]),
          keys.publicKey,
          Buffer.from(String(req.headers['x-signature-ed25519']), 'hex'),
        );
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify({ ok }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/interactions`;
    try {
      const payload = commandInteraction({
        applicationId: discord.applicationId,
        guildId: discord.guildId,
        channelId: discord.channelId,
        user: { id: '111111111111111111', username: 'alice' },
        roles: ['333333333333333333'],
        subcommandGroup: 'job',
        subcommand: 'cancel',
        options: { id: 7 },
      });
      const good = await postSignedDiscord(url, payload, keys.privateKey);
      const bad = await postSignedDiscord(url, payload, keys.privateKey, { signatureOverride: '00'.repeat(64) });

      expect(good).toMatchObject({ status: 200, json: { ok: true } });
      expect(bad).toMatchObject({ status: 401, json: { ok: false } });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('builds guild and DM command payloads, and component payloads, as Discord shapes them', async () => {
    const user = { id: '111111111111111111', username: 'alice' };
    const guild = commandInteraction({
      applicationId: discord.applicationId,
      guildId: discord.guildId,
      channelId: discord.channelId,
      user,
      roles: ['333333333333333333'],
      subcommandGroup: 'job',
      subcommand: 'cancel',
      options: { id: 7, force: true },
    });
    expect(guild).toMatchObject({
      type: 2,
      version: 1,
      guild_id: discord.guildId,
      context: 0,
      member: { user: { id: user.id }, roles: ['333333333333333333'] },
      authorizing_integration_owners: { 0: discord.guildId },
    });
    expect(guild).not.toHaveProperty('user');
    expect(guild.data.options).toEqual([
      {
        name: 'job',
        type: 2,
        options: [
          {
            name: 'cancel',
            type: 1,
            options: [
              { name: 'id', type: 4, value: 7 },
              { name: 'force', type: 5, value: true },
            ],
          },
        ],
      },
    ]);

    const dm = commandInteraction({ applicationId: discord.applicationId, channelId: '444444444444444444', user, subcommand: 'run' });
    expect(dm).toMatchObject({ user: { id: user.id }, context: 1 });
    expect(dm).not.toHaveProperty('member');
    expect(dm).not.toHaveProperty('guild_id');

    const message = await connect().channels.createMessage(discord.channelId, { content: 'approve?' });
    const click = componentInteraction({
      applicationId: discord.applicationId,
      guildId: discord.guildId,
      channelId: discord.channelId,
      user,
      customId: 'approve:7',
      message: discord.message(message.id)!,
    });
    expect(click).toMatchObject({ type: 3, data: { custom_id: 'approve:7', component_type: 2 }, message: { id: message.id } });
    expect(click.message).not.toHaveProperty('edits');

    const modal = modalSubmitInteraction({
      applicationId: discord.applicationId,
      guildId: discord.guildId,
      channelId: discord.channelId,
      user,
      customId: 'reason:7',
      fields: { reason: 'disk full' },
    });
    expect(modal).toMatchObject({ type: 5, data: { custom_id: 'reason:7', components: [{ type: 1, components: [{ type: 4, custom_id: 'reason', value: 'disk full' }] }] } });

    const typing = autocompleteInteraction({
      applicationId: discord.applicationId,
      guildId: discord.guildId,
      channelId: discord.channelId,
      user,
      subcommand: 'run',
      focused: 'host',
      options: { host: 'db' },
    });
    expect(typing).toMatchObject({ type: 4, data: { options: [{ name: 'run', type: 1, options: [{ name: 'host', type: 3, value: 'db', focused: true }] }] } });

    expect(pingInteraction({ applicationId: discord.applicationId })).toMatchObject({ type: 1, version: 1, application_id: discord.applicationId });
  });
});
