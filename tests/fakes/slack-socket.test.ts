import { App, LogLevel, SocketModeReceiver } from '@slack/bolt';
import slackWebApi from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { blockActionsPayload, slashCommandPayload } from '../helpers/slack-sign.js';
import { DEFAULT_APP_TOKEN, DEFAULT_BOT_TOKEN, DEFAULT_CHANNEL_ID, startFakeSlack, type FakeSlack } from './slack-api.js';

const { WebClient } = slackWebApi;

const quiet = { debug() {}, info() {}, warn() {}, error() {}, setLevel() {}, getLevel: () => LogLevel.ERROR, setName() {} };

let fake: FakeSlack;
let receivers: SocketModeReceiver[];

beforeEach(async () => {
  fake = await startFakeSlack({ socketMode: { closeAfterDisconnectMs: 500 } });
  receivers = [];
});

afterEach(async () => {
  for (const r of receivers) await r.stop().catch(() => {});
  await fake.close();
});

/** A Bolt app in Socket Mode against the fake, answering /testum with the text it got. */
function boltApp(appToken = DEFAULT_APP_TOKEN): { app: App; receiver: SocketModeReceiver } {
  const receiver = new SocketModeReceiver({ appToken, logger: quiet, clientPingTimeout: 1000, installerOptions: { clientOptions: { slackApiUrl: fake.url } } });
  receivers.push(receiver);
  const app = new App({ receiver, token: DEFAULT_BOT_TOKEN, tokenVerificationEnabled: false, logger: quiet, clientOptions: { slackApiUrl: fake.url } });
  app.command('/testum', async ({ command, ack }) => ack({ response_type: 'ephemeral', text: `got: ${command.text}` }));
  app.action(/.*/, async ({ ack }) => ack());
  return { app, receiver };
}

const slash = (text: string) => slashCommandPayload({ text, teamId: 'T0000000001', userId: 'U0000000001', channelId: DEFAULT_CHANNEL_ID, responseUrl: fake.newResponseUrl() });

describe('fake Slack Socket Mode', () => {
  it('opens a URL only for the app-level token, each URL good for one connection', async () => {
    const bot = new WebClient(DEFAULT_BOT_TOKEN, { slackApiUrl: fake.url, retryConfig: { retries: 0 } });
    await expect(bot.apps.connections.open()).rejects.toMatchObject({ data: { error: 'not_allowed_token_type' } });
    const wrong = new WebClient('xapp-1-other', { slackApiUrl: fake.url, retryConfig: { retries: 0 } });
    await expect(wrong.apps.connections.open()).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
    const app = new WebClient(DEFAULT_APP_TOKEN, { slackApiUrl: fake.url, retryConfig: { retries: 0 } });
    const opened = await app.apps.connections.open();
    expect(opened.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=[\w-]+&app_id=A0000000001$/);

    const first = new WebSocket(opened.url!);
    const hello = await new Promise<Record<string, unknown>>((resolve) => first.once('message', (data) => resolve(JSON.parse(String(data)))));
    expect(hello).toMatchObject({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A0000000001' } });
    const again = new WebSocket(opened.url!);
    const refused = await new Promise<string>((resolve) => {
      again.once('error', () => resolve('error'));
      again.once('open', () => resolve('open'));
    });
    expect(refused).toBe('error');
    first.close();
  });

  it('carries a slash command to Bolt and its ack back as the answer', async () => {
    const { receiver } = boltApp();
    await receiver.start();
    await fake.socket.waitForReady(1);
    const delivery = await fake.socket.send('slash_commands', slash('run db-1 uptime'));
    expect(delivery).toMatchObject({ ok: true, ack: { response_type: 'ephemeral', text: 'got: run db-1 uptime' } });
    const [record] = fake.socket.envelopes();
    expect(record).toMatchObject({ type: 'slash_commands', retryAttempt: 0 });
    expect(record!.late).toBeUndefined();
    const click = await fake.socket.send(
      'interactive',
      blockActionsPayload({
        teamId: 'T0000000001',
        userId: 'U0000000001',
        channelId: DEFAULT_CHANNEL_ID,
        messageTs: '1.000001',
        actionId: 'a',
        value: 'v',
        responseUrl: fake.newResponseUrl(),
      }),
    );
    expect(click.ok).toBe(true);
  });

  it('fails a command when no connection is open, and when the app does not ack within 3 s', async () => {
    expect(await fake.socket.send('slash_commands', slash('x'))).toMatchObject({ ok: false, error: 'dispatch_failed' });
    const receiver = new SocketModeReceiver({ appToken: DEFAULT_APP_TOKEN, logger: quiet, installerOptions: { clientOptions: { slackApiUrl: fake.url } } });
    receivers.push(receiver);
    const app = new App({ receiver, token: DEFAULT_BOT_TOKEN, tokenVerificationEnabled: false, logger: quiet });
    app.command('/testum', async () => {});
    await receiver.start();
    const started = Date.now();
    expect(await fake.socket.send('slash_commands', slash('x'))).toMatchObject({ ok: false, error: 'ack_timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
  });

  it('asks a connection to go with refresh_requested; the client opens a new one and no envelope goes to the old one', async () => {
    const { receiver } = boltApp();
    await receiver.start();
    const old = fake.socket.disconnect('refresh_requested');
    expect(fake.socket.ready()).toBe(0);
    expect(await fake.socket.send('slash_commands', slash('during'))).toMatchObject({ ok: false, error: 'dispatch_failed' });
    await fake.socket.waitForReady(1, 15_000);
    const delivery = await fake.socket.send('slash_commands', slash('after'));
    expect(delivery).toMatchObject({ ok: true, ack: { text: 'got: after' } });
    expect(delivery.ok && delivery.connection).not.toBe(old);
    expect(fake.socket.connections().find((c) => c.id === old)?.open).toBe(false);
    expect(fake.socket.opened()).toBe(2);
  });

  it('tells the eleventh connection there are too many', async () => {
    const app = new WebClient(DEFAULT_APP_TOKEN, { slackApiUrl: fake.url, retryConfig: { retries: 0 } });
    const sockets: WebSocket[] = [];
    const firstMessage = async () => {
      const ws = new WebSocket((await app.apps.connections.open()).url!);
      sockets.push(ws);
      return new Promise<Record<string, unknown>>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))));
    };
    for (let i = 1; i <= 10; i++) expect(await firstMessage()).toMatchObject({ type: 'hello', num_connections: i });
    expect(await firstMessage()).toMatchObject({ type: 'disconnect', reason: 'too_many_websockets' });
    for (const ws of sockets) ws.close();
  });
});
