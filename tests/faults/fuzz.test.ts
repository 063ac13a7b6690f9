import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeSlack, type FakeSlack } from "../fakes/slack-api.js";
import { commandInteraction, componentInteraction, modalSubmitInteraction, postSignedDiscord, snowflake } from "../helpers/discord-sign.js";
import { startDiscordWorld, type DiscordWorld } from "../helpers/discord-world.js";
import { blockActionsBody, postSignedSlack, slashCommandBody } from "../helpers/slack-sign.js";
import { freePort } from "../helpers/sshd.js";

// Generated and mutated requests, signed as the platforms sign them, to every
// inbound endpoint: random text, unicode, huge and odd numbers, wrong types,
// broken JSON. None may get a 5xx or "internal error", crash testum or create a
// job. The one host's name is never generated (nor "all"), so no request is
// valid enough to run anything.

const SIGNING_SECRET = "fuzz-signing-secret-0123456789abcdef";
const SEED = Number(process.env.TESTUM_FUZZ_SEED ?? 13);
const PER_ENDPOINT = 700;

let world: DiscordWorld;
const logLines: string[] = [];
let slack: FakeSlack;
let playgroundUrl: string;
/** The playground's cookie and Origin, as its own page sends them. */
let playgroundHeaders: Record<string, string> = {};

/** A small seeded generator (mulberry32), so a failure can be replayed with TESTUM_FUZZ_SEED. */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chars = [
    () => String.fromCharCode(32 + int(95)),
    () => pick(["\u0000", "\u0007", "\u001b", "\u007f", "\n", "\r", "\t"]),
    () => pick(["\ud800", "\udfff", "\ud83d\ude42", "\u202e", "\u200b", "\ufeff", "ß", "я", "日本", "🙂"]),
    () => pick(["'", '"', "`", "\\", "%", "%E0%A4%A", "&", "=", "<!channel>", "@everyone", "--", "*", "[", "]", "[z-a]", "{", "$(", ";"]),
    () => String.fromCodePoint(int(0x10ffff)).replace(/[\ud800-\udfff]/g, "?"),
  ];
  const text = (max = 60) => Array.from({ length: int(max) }, () => pick(chars)()).join("");
  const words = [
    "run",
    "script",
    "cancel",
    "jobs",
    "show",
    "logs",
    "hosts",
    "add",
    "rm",
    "tag",
    "test",
    "repin",
    "keys",
    "deploy",
    "schedule",
    "grant",
    "revoke",
    "help",
    "whoami",
    "risk",
    "audit",
    "identity",
    "--timeout",
    "--parallel",
    "--batch",
    "--tz",
    "--name",
    "--dry-run",
    "nohost",
    "role=web",
    "web-*",
    "'df -h'",
  ];
  const numbers = [0, -1, 1.5, 1e308, -1e308, 2 ** 53, 2 ** 64, Number.MAX_SAFE_INTEGER + 2, "99999999999999999999", "-0", "NaN", "1e999", "0x10", ""];
  const command = () => Array.from({ length: 1 + int(7) }, () => (next() < 0.7 ? pick(words) : next() < 0.5 ? String(pick(numbers)) : text(12))).join(" ");
  const odd = (): unknown => pick([null, true, false, 0, -1, 1e308, "", text(20), [], [text(5)], {}, { [text(5)]: text(5) }, pick(numbers)]);
  /** A copy of `value` with one field somewhere replaced, removed or given the wrong type. */
  const mutate = (value: unknown, depth = 0): unknown => {
    if (value === null || typeof value !== "object" || depth > 4) return next() < 0.5 ? odd() : value;
    const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
    const keys = Object.keys(copy);
    if (keys.length === 0) return odd();
    const key = pick(keys);
    const roll = next();
    if (roll < 0.2) delete (copy as Record<string, unknown>)[key];
    else if (roll < 0.6) (copy as Record<string, unknown>)[key] = odd();
    else (copy as Record<string, unknown>)[key] = mutate((copy as Record<string, unknown>)[key], depth + 1);
    return copy;
  };
  return { next, int, pick, text, command, odd, mutate, numbers };
}

const g = generator(SEED);
const statuses = { slack: [] as number[], discord: [] as number[], playground: [] as number[] };
/** Requests answered with a 5xx, to show in the failure (emptied by each test). */
let failures: string[] = [];
const noted = (status: number, what: string) => {
  if (status >= 500 && failures.length < 5) failures.push(`${status} ${what.length > 1200 ? `${what.slice(0, 300)} … ${what.slice(-900)}` : what}`);
  return status;
};

beforeAll(async () => {
  slack = await startFakeSlack();
  const playgroundPort = await freePort();
  world = await startDiscordWorld({
    hosts: 1,
    testum: {
      env: {
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_BOT_TOKEN: "xoxb-test-token",
        SLACK_API_URL: slack.url,
        PLAYGROUND: "on",
        PLAYGROUND_PORT: String(playgroundPort),
      },
      logLines,
    },
  });
  // The start link carries the per-start key; the playground moves it into a cookie.
  const start = await fetch(world.testum.running.playgroundUrl!, { redirect: "manual" });
  const cookie = (start.headers.get("set-cookie") ?? "").split(";")[0]!;
  expect(cookie).toMatch(/=/);
  playgroundUrl = new URL(world.testum.running.playgroundUrl!).origin;
  expect(playgroundUrl).toContain(String(playgroundPort));
  playgroundHeaders = { cookie, origin: playgroundUrl };
  await world.addHost("fuzz-target", world.ssh.hosts[0]!);
}, 120_000);

afterAll(async () => {
  await world?.stop();
  await slack?.close();
});

/** Runs `count` requests, `parallel` at a time. */
async function flood(count: number, send: (i: number) => Promise<number>, into: number[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const i = next++;
        into.push(await send(i));
      }
    }),
  );
}

function slackBody(i: number): string {
  const roll = g.next();
  if (roll < 0.5) {
    const fields: Record<string, string> = Object.fromEntries(
      new URLSearchParams(
        slashCommandBody({
          text: g.next() < 0.5 ? g.command() : g.text(200),
          teamId: "T0000000001",
          userId: `U0FUZZ${i}`,
          channelId: "C0000000001",
          responseUrl: `${slack.url}/nowhere/${i}`,
        }),
      ),
    );
    // Sometimes a field goes missing or gets odd content.
    if (g.next() < 0.4) fields[g.pick(Object.keys(fields))] = g.text(30);
    if (g.next() < 0.2) delete fields[g.pick(Object.keys(fields))];
    return new URLSearchParams(fields).toString();
  }
  if (roll < 0.8) {
    const payload = JSON.parse(
      new URLSearchParams(
        blockActionsBody({
          teamId: "T0000000001",
          userId: `U0FUZZ${i}`,
          channelId: "C0000000001",
          messageTs: "1.1",
          actionId: "testum-0-0",
          value: g.next() < 0.5 ? `t1:${g.pick(["approve", "reject", "cancel", "schedule-approve", "nope"])}:${String(g.pick(g.numbers))}` : g.text(40),
          responseUrl: `${slack.url}/nowhere/${i}`,
        }),
      ).get("payload")!,
    ) as unknown;
    return new URLSearchParams({ payload: JSON.stringify(g.mutate(payload)) }).toString();
  }
  if (roll < 0.9) return new URLSearchParams({ payload: g.text(100) }).toString();
  return g.text(300);
}

function discordBody(_i: number): string {
  const base = {
    applicationId: world.discord.applicationId,
    guildId: world.discord.guildId,
    channelId: world.discord.channelId,
    user: { id: world.admin.id, username: "alice" },
    roles: [],
  };
  const roll = g.next();
  if (roll < 0.4) {
    const subcommand = g.pick(["run", "cancel", "jobs", "logs", "hosts", "keys", "whoami", "help", g.text(8)]);
    const options = Object.fromEntries(
      Array.from({ length: g.int(4) }, () => [
        g.pick(["target", "command", "job", "host", "timeout", "parallel", g.text(6)]),
        g.pick([g.text(40), g.int(1e9), -5, 1e308, true, "nohost", g.command()]),
      ]),
    );
    const payload = commandInteraction({ ...base, subcommand, options: options as Record<string, string | number | boolean> });
    return JSON.stringify(g.next() < 0.5 ? g.mutate(payload) : payload);
  }
  if (roll < 0.6) {
    const message = { id: snowflake(), channel_id: world.discord.channelId, content: "", embeds: [], components: [] } as never;
    const payload = componentInteraction({
      ...base,
      customId: g.next() < 0.5 ? `t1:${g.pick(["approve", "reject", "cancel"])}:${String(g.pick(g.numbers))}` : g.text(120),
      message,
    });
    return JSON.stringify(g.mutate(payload));
  }
  if (roll < 0.75) {
    const payload = modalSubmitInteraction({ ...base, customId: g.text(60), fields: { script: g.text(300), password: g.text(10) } });
    return JSON.stringify(g.mutate(payload));
  }
  if (roll < 0.9) return JSON.stringify(g.odd());
  return g.text(200);
}

describe(`fuzz (seed ${SEED}; replay with TESTUM_FUZZ_SEED=${SEED})`, () => {
  it(`Slack: ${PER_ENDPOINT} signed requests, never a 5xx`, async () => {
    failures = [];
    await flood(
      PER_ENDPOINT,
      async (i) => {
        const body = slackBody(i);
        const stale = g.next() < 0.05;
        const res = await postSignedSlack(`${world.testum.url}/slack/events`, body, SIGNING_SECRET, stale ? { timestampSec: Math.floor(Date.now() / 1000) - 3600 } : {});
        return noted(res.status, body);
      },
      statuses.slack,
    );
    expect(statuses.slack.length).toBe(PER_ENDPOINT);
    expect(failures).toEqual([]);
  }, 180_000);

  it(`Discord: ${PER_ENDPOINT} signed interactions, never a 5xx`, async () => {
    failures = [];
    await flood(
      PER_ENDPOINT,
      async (i) => {
        const body = discordBody(i);
        const res = await postSignedDiscord(world.endpoint, body, world.keys.privateKey);
        return noted(res.status, body);
      },
      statuses.discord,
    );
    expect(statuses.discord.length).toBe(PER_ENDPOINT);
    expect(failures).toEqual([]);
  }, 180_000);

  it(`playground: ${PER_ENDPOINT} requests, never a 5xx`, async () => {
    failures = [];
    await flood(
      PER_ENDPOINT,
      async () => {
        const kind = g.pick(["command", "action", "form", "messages"]);
        if (kind === "messages") {
          const as = g.pick(["local:admin", "local:alice", g.text(10)]);
          const res = await fetch(
            `${playgroundUrl}/playground/api/messages?as=${Buffer.from(as)
              .toString("latin1")
              .replace(/[^A-Za-z0-9:]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`)}`,
            { headers: playgroundHeaders },
          );
          await res.arrayBuffer();
          return noted(res.status, `messages ${as}`);
        }
        const body = {
          as: g.pick(["local:admin", "local:alice", "local:bob", g.text(10), g.odd()]),
          text: g.next() < 0.6 ? `/testum ${g.command()}` : g.odd(),
          message: g.pick(g.numbers),
          action: g.next() < 0.5 ? `t1:${g.pick(["approve", "cancel"])}:${String(g.pick(g.numbers))}` : g.text(50),
          values: g.next() < 0.5 ? { script: g.text(100) } : g.odd(),
          lang: g.pick(["en", "ru", g.text(3)]),
        };
        const raw = g.next() < 0.85 ? JSON.stringify(g.next() < 0.3 ? g.mutate(body) : body) : g.text(100);
        const res = await fetch(`${playgroundUrl}/playground/api/${kind}`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-testum-playground": "1", ...playgroundHeaders },
          body: raw,
        });
        await res.arrayBuffer();
        return noted(res.status, `${kind} ${raw}`);
      },
      statuses.playground,
    );
    expect(failures).toEqual([]);
  }, 180_000);

  it('left testum up, created no job, and never answered "internal error"', async () => {
    const internal = logLines.filter((l) => l.includes('"msg":"internal error"'));
    expect(internal.map((l) => l.slice(0, 3000))).toEqual([]);
    const total = statuses.slack.length + statuses.discord.length + statuses.playground.length;
    expect(total).toBeGreaterThanOrEqual(2000);
    expect((await fetch(`${world.testum.url}/healthz`)).status).toBe(200);
    const [row] = await world.testum.sql<{ n: number }[]>`select count(*)::int as n from jobs`;
    const made = await world.testum.sql`select id, command, target, requested_by, conversation from jobs`;
    expect(made).toEqual([]);
    expect(row!.n).toBe(0);
    // Something got through to testum (not everything was refused at the door).
    expect(statuses.slack.filter((s) => s === 200).length).toBeGreaterThan(100);
    expect(statuses.discord.filter((s) => s === 200).length).toBeGreaterThan(100);
    expect(statuses.playground.filter((s) => s === 200).length).toBeGreaterThan(100);
  });
});
