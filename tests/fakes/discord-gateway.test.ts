import { REST } from '@discordjs/rest';
import { WebSocketManager, WebSocketShardEvents } from '@discordjs/ws';
import { GatewayIntentBits, type GatewayDispatchPayload } from 'discord-api-types/v10';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startFakeDiscord, type FakeDiscord } from './discord-api.js';

let fake: FakeDiscord;
let managers: WebSocketManager[];

beforeEach(async () => {
  fake = await startFakeDiscord({ heartbeatIntervalMs: 400 });
  managers = [];
});

afterEach(async () => {
  // Bounded: a manager caught mid-handshake by a failed test must not hold up the tests after it.
  for (const m of managers) await Promise.race([m.destroy(), new Promise((r) => setTimeout(r, 5000))]);
  await fake.close();
});

/** A real @discordjs/ws manager against the fake, collecting the events it dispatches. */
function manager(intents = 0, token = fake.botToken): { ws: WebSocketManager; events: GatewayDispatchPayload[]; errors: Error[] } {
  const rest = new REST({ api: fake.api, version: '10' }).setToken(token);
  const ws = new WebSocketManager({ token, intents, rest });
  managers.push(ws);
  const events: GatewayDispatchPayload[] = [];
  const errors: Error[] = [];
  ws.on(WebSocketShardEvents.Dispatch, (payload) => void events.push(payload));
  ws.on(WebSocketShardEvents.Error, (error) => void errors.push(error));
  return { ws, events, errors };
}

const interaction = (id: string) => ({
  id,
  token: `token-${id}`,
  type: 2,
  application_id: fake.applicationId,
  guild_id: fake.guildId,
  channel_id: fake.channelId,
  data: { name: 'testum' },
});

async function until<T>(what: string, check: () => T | undefined | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('fake Discord Gateway', () => {
  it('answers GET /gateway/bot, says HELLO, takes IDENTIFY and heartbeats, sends READY and dispatches', async () => {
    const rest = new REST({ api: fake.api, version: '10' }).setToken(fake.botToken);
    const info = (await rest.get('/gateway/bot')) as { url: string; shards: number; session_start_limit: { remaining: number } };
    expect(info.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/gateway$/);
    expect(info.shards).toBe(1);

    const { ws, events } = manager(GatewayIntentBits.Guilds);
    await ws.connect();
    const ready = events.find((e) => e.t === 'READY');
    expect(ready?.d).toMatchObject({ v: 10, user: { id: fake.botUserId, bot: true }, guilds: [{ id: fake.guildId, unavailable: true }], application: { id: fake.applicationId } });
    await until('a GUILD_CREATE', () => events.find((e) => e.t === 'GUILD_CREATE'));
    expect(fake.gateway.sessionStartLimit().remaining).toBe(info.session_start_limit.remaining - 1);

    const delivered = fake.deliverInteraction(interaction('1100000000000000001'));
    const got = await until('the interaction', () => events.find((e) => e.t === 'INTERACTION_CREATE'));
    expect(got.s).toBe(delivered.seq);
    await until('two heartbeats', () => fake.gateway.counts().heartbeats >= 2, 3000);
  });

  it('resumes after RECONNECT (op 7) and after a dropped connection, replaying what was sent meanwhile, exactly once', async () => {
    const { ws, events } = manager();
    await ws.connect();
    const first = await fake.gateway.waitForSession();

    fake.gateway.reconnect();
    // Sent while the client is between connections: kept for the session and replayed on RESUME.
    fake.deliverInteraction(interaction('1100000000000000002'));
    await until('RESUMED', () => events.find((e) => e.t === 'RESUMED'));
    await until('the interaction sent while reconnecting', () => events.find((e) => e.t === 'INTERACTION_CREATE'));

    fake.gateway.drop();
    fake.deliverInteraction(interaction('1100000000000000003'));
    await until('a second RESUMED', () => events.filter((e) => e.t === 'RESUMED').length === 2);
    await until('the second interaction', () => events.filter((e) => e.t === 'INTERACTION_CREATE').length === 2);
    await new Promise((r) => setTimeout(r, 300));

    const counts = fake.gateway.counts();
    expect(counts.identifies).toBe(1);
    expect(counts.resumes).toBe(2);
    expect(events.filter((e) => e.t === 'INTERACTION_CREATE').map((e) => (e.d as { id: string }).id)).toEqual(['1100000000000000002', '1100000000000000003']);
    const [session] = fake.gateway.sessions();
    expect(session).toMatchObject({ id: first.id, connected: true, resumes: 2 });
  });

  it('makes the client identify anew after INVALID_SESSION (op 9) that may not resume', async () => {
    const { ws, events } = manager();
    await ws.connect();
    const first = await fake.gateway.waitForSession();
    fake.gateway.invalidate(false);
    const second = await fake.gateway.waitForSession({ notId: first.id, timeoutMs: 15_000 });
    expect(second.id).not.toBe(first.id);
    expect(fake.gateway.counts().identifies).toBe(2);
    // The fake knows the new session once it has sent READY; the client dispatches it a moment later.
    await until('the second READY', () => events.filter((e) => e.t === 'READY').length === 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(events.filter((e) => e.t === 'READY')).toHaveLength(2);
  });

  it('closes with 4004 for a wrong token and 4014 for privileged intents the app lacks', async () => {
    const wrong = manager(0, 'not-the-token');
    // GET /gateway/bot already refuses the token.
    await expect(wrong.ws.connect()).rejects.toThrow();
    const privileged = manager(GatewayIntentBits.MessageContent);
    await expect(privileged.ws.connect()).rejects.toThrow(/disallowed intents/i);
    expect(fake.gateway.counts().serverCloses).toContain(4014);
  });

  it('closes a connection that sends before IDENTIFY (4003), that stops heartbeating (4009), or asks for another version (4012)', async () => {
    const closeOf = (path: string, first?: object) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${fake.gateway.url.replace(/\/gateway$/, '')}${path}`);
        ws.once('message', () => first && ws.send(JSON.stringify(first)));
        ws.once('close', (code) => resolve(code));
      });
    expect(await closeOf('/gateway?v=10&encoding=json', { op: 3, d: {} })).toBe(4003);
    expect(await closeOf('/gateway?v=9&encoding=json')).toBe(4012);
    expect(await closeOf('/gateway?v=10&encoding=json', { op: 2, d: { token: fake.botToken, intents: 0, properties: {} } })).toBe(4009);
  });
});
