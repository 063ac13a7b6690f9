import { App, HTTPReceiver, isValidSlackRequest } from "@slack/bolt";
import slackWebApi from "@slack/web-api";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { App as CoreApp } from "../../core/app.js";
import type { Actor, ChatAdapter, Inbound, Reply, View } from "../../core/chat.js";
import { RateLimitedError, TestumError } from "../../core/errors.js";
import { msg, type Message } from "../../core/i18n.js";
import type { Logger, RateBudget, RateRule } from "../../core/ports.js";
import { message, replyWithin, working } from "../../core/replies.js";
import { readBody } from "../http/body.js";
import { paced, takeOrThrow } from "../pace.js";
import { checkSlackBody } from "./inbound.js";
import { decodeSlackText } from "./parse.js";
import { decodeMessage, decodeRef, encodeConversation, encodeMessage, slackIdentity } from "./refs.js";
import { renderModal, renderView } from "./render.js";

const { WebClient, WebAPIPlatformError, WebAPIRateLimitedError } = slackWebApi;
type WebClient = InstanceType<typeof WebClient>;

export interface SlackSettings {
  readonly botToken: string;
  readonly apiUrl: string;
}

/** chat.update is Tier 3 (50+/min per workspace); testum keeps to 40 (chat-platforms.md §3.1). */
const UPDATE_RULE: RateRule = { ratePerSecond: 40 / 60, burst: 10 };
/** chat.postMessage: about 1 per second per channel, short bursts allowed. */
const POST_RULE: RateRule = { ratePerSecond: 1, burst: 3 };
/** Seconds between two edits of one message. */
const MIN_EDIT_INTERVAL_MS = 3000;

function boltLogger(log: Logger) {
  const text = (parts: unknown[]) => parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" ");
  // Bolt's LogLevel values are these strings.
  let level = "info";
  return {
    debug: (...m: unknown[]) => log.debug({ source: "slack" }, text(m)),
    info: (...m: unknown[]) => log.info({ source: "slack" }, text(m)),
    warn: (...m: unknown[]) => log.warn({ source: "slack" }, text(m)),
    error: (...m: unknown[]) => log.error({ source: "slack" }, text(m)),
    setLevel: (l: string) => void (level = l),
    getLevel: () => level as never,
    setName: () => {},
  };
}

/** `fetch`: how requests go out (metrics count them); the global fetch by default. */
export function createSlackClient(settings: SlackSettings, log: Logger, fetch?: typeof globalThis.fetch): WebClient {
  return new WebClient(settings.botToken, {
    slackApiUrl: settings.apiUrl,
    ...(fetch ? { fetch } : {}),
    // One workspace's 429 must not stall every other call in this process:
    // rate limits surface as errors, and testum's own pacing decides.
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 2, minTimeout: 250, maxTimeout: 2000 },
    logger: boltLogger(log),
  });
}

/** Slack's refusals, in words a user can act on (said later, in the reader's language). */
function explain(error: string): Message {
  switch (error) {
    case "not_in_channel":
    case "channel_not_found":
      return msg("adapter.slack.not_in_channel");
    case "is_archived":
      return msg("adapter.slack.archived");
    case "invalid_auth":
    case "not_authed":
    case "token_revoked":
    case "account_inactive":
      return msg("adapter.slack.token_refused");
    case "message_not_found":
      return msg("adapter.unknown_message");
    default:
      return msg("adapter.slack.refused", { error });
  }
}

/**
 * Turns Web API errors into testum's: rate limits become RateLimitedError
 * (after blocking the whole workspace's shared budget), refusals a
 * TestumError that says what to do.
 */
async function mapErrors<T>(budget: RateBudget, key: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof WebAPIRateLimitedError) {
      const ms = Math.max(1, err.retryAfter) * 1000;
      await budget.block(key, ms);
      throw new RateLimitedError(ms);
    }
    if (err instanceof WebAPIPlatformError) {
      throw new TestumError("chat_unavailable", explain(err.data.error), { cause: err });
    }
    throw err;
  }
}

/** The Slack side of the chat contract, used by web and worker processes alike. */
export function createSlackChat(client: WebClient, budget: RateBudget): ChatAdapter {
  return {
    platform: "slack",
    minEditIntervalMs: MIN_EDIT_INTERVAL_MS,
    async startThread(conversation, view) {
      const { team, channel } = decodeRef(conversation);
      const key = `slack:${team}:${channel}:post`;
      const result = await paced(budget, key, POST_RULE, () =>
        mapErrors(budget, key, () => client.chat.postMessage({ channel, ...renderView(view), unfurl_links: false, unfurl_media: false })),
      );
      const ref = encodeMessage(team, channel, String(result.ts));
      return { message: ref, thread: ref };
    },
    async post(thread, view) {
      const { team, channel, ts } = decodeMessage(thread);
      const key = `slack:${team}:${channel}:post`;
      const result = await paced(budget, key, POST_RULE, () =>
        mapErrors(budget, key, () =>
          client.chat.postMessage({ channel, thread_ts: ts, ...renderView(view), unfurl_links: false, unfurl_media: false }),
        ),
      );
      return encodeMessage(team, channel, String(result.ts));
    },
    async edit(message, view) {
      const { team, channel, ts } = decodeMessage(message);
      const key = `slack:${team}:chat.update`;
      await takeOrThrow(budget, key, UPDATE_RULE);
      await mapErrors(budget, key, () => client.chat.update({ channel, ts, ...renderView(view) }));
    },
  };
}

/** User groups change rarely; one lookup per workspace a minute is plenty. */
const GROUPS_TTL_MS = 60_000;
/** The answer to Slack must not wait long for group membership. */
const GROUPS_WAIT_MS = 800;

/**
 * The user groups a user belongs to, as testum identities
 * (`slack:ORG:group:S…`, ORG being the Enterprise Grid org or the workspace), read with usergroups.list. Without the
 * usergroups:read scope there are none, and testum says so once in its log.
 */
function createGroupLookup(client: WebClient, log: Logger) {
  const cache = new Map<string, { at: number; groups: Promise<Map<string, string[]>> }>();
  let warned = false;
  const load = async (team: string): Promise<Map<string, string[]>> => {
    try {
      const result = await client.usergroups.list({ team_id: team, include_users: true });
      return new Map((result.usergroups ?? []).map((g) => [String(g.id), (g.users ?? []).map(String)]));
    } catch (err) {
      if (!warned) log.warn({ err }, "Slack user groups are unavailable (needs the usergroups:read scope); roles bound to groups do not apply");
      warned = true;
      return new Map();
    }
  };
  return async (team: string, org: string, user: string): Promise<string[]> => {
    let entry = cache.get(team);
    if (!entry || Date.now() - entry.at > GROUPS_TTL_MS) {
      entry = { at: Date.now(), groups: load(team) };
      cache.set(team, entry);
    }
    const groups = await Promise.race([entry.groups, new Promise<Map<string, string[]>>((r) => setTimeout(() => r(new Map()), GROUPS_WAIT_MS))]);
    return [...groups].filter(([, users]) => users.includes(user)).map(([id]) => `slack:${org}:group:${id}`);
  };
}

/** A person's language changes rarely; ten minutes of cache keeps users.info calls few. */
const LOCALE_TTL_MS = 10 * 60_000;
/** A failed lookup (no users:read scope, a network blip) is tried again sooner. */
const LOCALE_RETRY_MS = 60_000;
/** Like the groups, the locale must not hold up the answer to Slack. */
const LOCALE_WAIT_MS = 800;
/** Past this many cached people, expired entries are swept on the next insert. */
const LOCALE_CACHE_SWEEP = 5000;

/**
 * A user's locale (`ru-RU`, `en-US` …) from users.info with include_locale,
 * cached per user. A lookup slower than LOCALE_WAIT_MS answers "unknown" this
 * time (the default language) and fills the cache for the next request.
 */
export function createLocaleLookup(client: Pick<WebClient, "users">, log: Logger, waitMs = LOCALE_WAIT_MS) {
  const cache = new Map<string, { until: number; locale: Promise<string | undefined> }>();
  let warned = false;
  const load = async (key: string, user: string): Promise<string | undefined> => {
    try {
      const result = await client.users.info({ user, include_locale: true });
      return typeof result.user?.locale === "string" ? result.user.locale : undefined;
    } catch (err) {
      if (!warned) log.warn({ err }, "Slack users.info is unavailable (needs the users:read scope); replies use TESTUM_LANG");
      warned = true;
      const entry = cache.get(key);
      if (entry) entry.until = Math.min(entry.until, Date.now() + LOCALE_RETRY_MS);
      return undefined;
    }
  };
  return async (team: string, user: string): Promise<string | undefined> => {
    const key = `${team}:${user}`;
    let entry = cache.get(key);
    if (!entry || Date.now() > entry.until) {
      if (cache.size >= LOCALE_CACHE_SWEEP) for (const [k, e] of cache) if (Date.now() > e.until) cache.delete(k);
      entry = { until: Date.now() + LOCALE_TTL_MS, locale: load(key, user) };
      cache.set(key, entry);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), waitMs)));
    try {
      return await Promise.race([entry.locale, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}

export interface SlackReceiverDeps {
  readonly signingSecret: string;
  readonly settings: SlackSettings;
  readonly core: CoreApp;
  readonly chat: ChatAdapter;
  readonly log: Logger;
}

/** Clock difference tolerated for a request dated in the future (the same 5 minutes Bolt allows into the past). */
const MAX_FUTURE_SKEW_S = 300;

/** Answer within Slack's 3 s, leaving room for the network. */
const ACK_WITHIN_MS = 2000;

/**
 * Bolt in HTTP mode with signature verification on, mounted at
 * `/slack/events`: slash commands, button clicks and modal submissions.
 */
export function createSlackReceiver(deps: SlackReceiverDeps): {
  listener: (req: IncomingMessage, res: ServerResponse) => void;
} {
  const { core, chat, log } = deps;
  const receiver = new HTTPReceiver({
    signingSecret: deps.signingSecret,
    endpoints: "/slack/events",
    processBeforeResponse: false,
    logger: boltLogger(log),
  });
  const app = new App({
    receiver,
    token: deps.settings.botToken,
    tokenVerificationEnabled: false,
    logger: boltLogger(log),
    clientOptions: { slackApiUrl: deps.settings.apiUrl, rejectRateLimitedCalls: true },
  });

  const ephemeral = (view: View) => ({ response_type: "ephemeral" as const, replace_original: false, ...renderView(view) });
  const groupsOf = createGroupLookup(app.client as unknown as WebClient, log);
  const localeOf = createLocaleLookup(app.client as unknown as WebClient, log);
  /** Groups and locale are looked up side by side: together they wait at most one short limit. */
  const actorOf = async (team: string, org: string, user: string, name: string | undefined): Promise<Actor> => {
    const [groups, locale] = await Promise.all([groupsOf(team, org, user), localeOf(team, user)]);
    return { id: slackIdentity(team, org, user), name, groups, locale };
  };

  app.command(/.*/, async ({ command, ack, respond }) => {
    const org = command.enterprise_id || command.team_id;
    const actor = await actorOf(command.team_id, org, command.user_id, command.user_name);
    const t = core.translator(actor.locale);
    const event: Inbound = {
      kind: "command",
      actor,
      conversation: encodeConversation(command.team_id, command.channel_id),
      eventId: command.trigger_id,
      input: { type: "text", text: decodeSlackText(command.text ?? "", org) },
      respond: async (view) => void (await respond(ephemeral(view))),
    };
    const reply = await replyWithin(core.handle(event), ACK_WITHIN_MS, (late) => void deliver(late, event, respond));
    if (reply?.kind === "form") {
      await ack();
      await openModal(reply, command.trigger_id, command.channel_id).catch(async (err) => {
        log.warn({ err }, "could not open a Slack modal");
        await respond(ephemeral(message(t("adapter.slack.form_not_opened"), undefined, "warning")));
      });
    } else {
      await ack(ephemeral(reply && reply.kind !== "none" ? reply.view : { ...working(t), lang: t.lang }));
    }
  });

  app.action(/^testum-/, async ({ body, action, ack, respond }) => {
    await ack();
    if (body.type !== "block_actions" || action.type !== "button") return;
    const team = body.team?.id ?? body.user.team_id ?? "";
    const channel = body.channel?.id ?? body.container?.channel_id;
    const ts = body.message?.ts ?? body.container?.message_ts;
    if (!channel || !ts) return;
    const actor = await actorOf(body.user.team_id ?? team, body.enterprise?.id || (body.user.team_id ?? team), body.user.id, body.user.username ?? body.user.name);
    const event: Inbound = {
      kind: "action",
      actor,
      conversation: encodeConversation(team, channel),
      message: encodeMessage(team, channel, ts),
      action: action.value ?? "",
      eventId: body.trigger_id,
      respond: async (view) => void (await respond(ephemeral(view))),
    };
    const reply = await core.handle(event);
    if (reply.kind === "update") await chat.edit(event.message!, reply.view).catch((err) => log.warn({ err }, "could not update the clicked message"));
    else if (reply.kind === "private") await respond(ephemeral(reply.view));
    else if (reply.kind === "form") await openModal(reply, body.trigger_id, channel);
  });

  app.view(/.*/, async ({ body, view, ack }) => {
    const values: Record<string, string> = {};
    for (const [blockId, inputs] of Object.entries(view.state.values)) {
      const value = (inputs as Record<string, { value?: string | null }>).value?.value;
      if (typeof value === "string") values[blockId] = value;
    }
    const team = body.team?.id ?? body.user.team_id ?? "";
    const event: Inbound = {
      kind: "form",
      actor: await actorOf(body.user.team_id ?? team, body.enterprise?.id || (body.user.team_id ?? team), body.user.id, body.user.name),
      conversation: encodeConversation(team, view.private_metadata || "unknown"),
      action: view.callback_id,
      values,
      // A modal answered with errors is submitted again with the same view id: its trigger id is new.
      eventId: (body as { trigger_id?: string }).trigger_id ?? `${body.view.id}:${body.view.hash}`,
      respond: async () => {},
    };
    const reply = await core.handle(event);
    if (reply.kind === "private" && reply.view.tone === "warning") {
      const first = Object.keys(values)[0] ?? "value";
      await ack({ response_action: "errors", errors: { [first]: reply.view.text.slice(0, 150) } });
    } else if (reply.kind === "private") {
      const close = core.translator(event.actor.locale)("button.close");
      await ack({ response_action: "update", view: { type: "modal", title: { type: "plain_text", text: "testum" }, close: { type: "plain_text", text: close }, blocks: renderView(reply.view).blocks as never } });
    } else {
      await ack();
    }
  });

  /** The channel rides along in private_metadata so the submission knows where it came from. */
  async function openModal(reply: Extract<Reply, { kind: "form" }>, triggerId: string, channel: string): Promise<void> {
    await app.client.views.open({ trigger_id: triggerId, view: { ...renderModal(reply.form), private_metadata: channel } as never });
  }

  async function deliver(reply: Reply, event: Inbound, respond: (msg: object) => Promise<unknown>): Promise<void> {
    try {
      if (reply.kind === "private" || reply.kind === "update") await respond(ephemeral(reply.view));
    } catch (err) {
      log.warn({ err, event: event.eventId }, "could not deliver a late reply");
    }
  }

  /**
   * Signed requests whose payload is not one testum handles are answered 400
   * here; everything else goes to Bolt, which checks the signature again.
   */
  async function listener(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") return receiver.requestListener(req, res);
    // Bolt refuses only stale timestamps; one far ahead would stretch how long a captured request stays valid.
    const dated = Number(req.headers["x-slack-request-timestamp"]);
    if (Number.isFinite(dated) && dated > Date.now() / 1000 + MAX_FUTURE_SKEW_S) {
      res.writeHead(401, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).end("request timestamp is too far in the future\n");
      return;
    }
    const body = await readBody(req, SLACK_BODY_LIMIT).catch(() => undefined);
    if (!body) {
      res.writeHead(413, { "content-type": "text/plain; charset=utf-8" }).end("Request too large\n");
      return;
    }
    // Bolt reads a body that was already read from here (HTTPModuleFunctions.bufferIncomingMessage).
    (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
    const raw = body.toString("utf8");
    const signature = req.headers["x-slack-signature"];
    const timestamp = Number(req.headers["x-slack-request-timestamp"]);
    const signed = typeof signature === "string" && Number.isFinite(timestamp) && isValidSlackRequest({ signingSecret: deps.signingSecret, body: raw, headers: { "x-slack-signature": signature, "x-slack-request-timestamp": timestamp } });
    const problem = signed ? checkSlackBody(raw) : undefined;
    if (problem) {
      log.warn({ problem }, "refused a signed Slack request that testum does not understand");
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" }).end(`Malformed Slack request: ${problem}\n`);
      return;
    }
    return receiver.requestListener(req, res);
  }

  return { listener: (req, res) => void listener(req, res).catch((err: unknown) => {
    log.error({ err }, "Slack request failed");
    if (!res.headersSent) res.writeHead(400).end();
  }) };
}

/** Bolt's own limit (HTTPModuleFunctions.defaultBodyLimit). */
const SLACK_BODY_LIMIT = 4 * 1024 * 1024;
