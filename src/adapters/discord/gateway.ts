import { DiscordAPIError } from "@discordjs/rest";
import { type SessionInfo, WebSocketManager, WebSocketShardEvents } from "@discordjs/ws";
import { GatewayDispatchEvents, Routes, type APIInteraction } from "discord-api-types/v10";
import { REPLAY_WINDOW_MS } from "../../core/app.js";
import type { ReplayGuard } from "../../core/ports.js";
import { checkInteraction } from "./inbound.js";
import { createInteractionHandler, type InteractionDeps } from "./interactions.js";

export interface DiscordGatewayDeps extends InteractionDeps {
  readonly botToken: string;
  /** Each interaction is taken once across every testum process (all of them hold a Gateway session). */
  readonly replay: ReplayGuard;
}

export interface DiscordGateway {
  /** Resolves once connected, or with the reason it gave up (a refused token, say). */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

/** discordapi: interactions/receiving-and-responding "Interaction Callback" (already answered). */
const ALREADY_ACKNOWLEDGED = 40060;
/** The interaction is older than 3 s, or unknown. */
const UNKNOWN_INTERACTION = 10062;
/** Between attempts to reach the Gateway when it cannot be reached at all. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;

/** Errors after which trying again cannot help: the token or the intents were refused. */
function fatal(err: unknown): boolean {
  if (err instanceof DiscordAPIError) return err.status === 401 || err.status === 403;
  return err instanceof Error && /authentication failed|disallowed intents|invalid intents|invalid shard|sharding is required/i.test(err.message);
}

/**
 * Receives interactions over the Discord Gateway (topics/gateway.mdx) instead
 * of an HTTP endpoint, so nothing needs to reach testum from outside:
 * @discordjs/ws keeps the connection (heartbeats, RESUME after a lost
 * connection, RECONNECT and INVALID_SESSION), and each INTERACTION_CREATE is
 * answered through the interaction callback route. No intents are needed:
 * interactions reach every bot connection whatever its intents.
 */
export function startDiscordGateway(deps: DiscordGatewayDeps): DiscordGateway {
  const { api, log, replay } = deps;
  const handle = createInteractionHandler(deps);
  // @discordjs/ws keeps sessions in one store per module by default; each connection keeps its own,
  // so two of them in one process never resume each other's session.
  const sessions = new Map<number, SessionInfo>();
  const manager = new WebSocketManager({
    token: deps.botToken,
    intents: 0,
    rest: api.rest,
    retrieveSessionInfo: (shard) => sessions.get(shard) ?? null,
    updateSessionInfo: (shard, info) => void (info ? sessions.set(shard, info) : sessions.delete(shard)),
  });
  let stopped = false;
  let wake = () => {};

  async function onInteraction(payload: APIInteraction): Promise<void> {
    const problem = checkInteraction(payload);
    if (problem) {
      log.warn({ problem }, "ignored an interaction from the Discord Gateway that testum does not understand");
      return;
    }
    // A RESUME can replay an event, and every process with a session gets each one.
    const first = await replay.firstTime(`discord-gateway:${payload.id}`, REPLAY_WINDOW_MS).catch((err: unknown) => {
      // Core checks the request too and says so when it cannot.
      log.warn({ err }, "could not check that a Gateway interaction is new");
      return true;
    });
    if (!first) {
      log.debug({ interaction: payload.id }, "interaction already taken");
      return;
    }
    let markAnswered = () => {};
    const answered = new Promise<void>((r) => (markAnswered = r));
    try {
      const response = await handle(payload, answered);
      await api.rest.post(Routes.interactionCallback(payload.id, payload.token), { body: response, auth: false });
    } catch (err) {
      const code = err instanceof DiscordAPIError ? err.code : undefined;
      if (code === ALREADY_ACKNOWLEDGED) log.debug({ interaction: payload.id }, "interaction answered elsewhere");
      else if (code === UNKNOWN_INTERACTION) log.warn({ interaction: payload.id }, "answered an interaction after Discord's 3 s; the user saw it fail");
      else log.warn({ err, interaction: payload.id }, "could not answer an interaction from the Discord Gateway");
    } finally {
      markAnswered();
    }
  }

  manager.on(WebSocketShardEvents.Dispatch, (payload) => {
    if (payload.t === GatewayDispatchEvents.InteractionCreate) void onInteraction(payload.d);
  });
  manager.on(WebSocketShardEvents.Ready, (data) => log.info({ adapter: "discord", session: data.session_id }, "Discord: connected to the Gateway"));
  manager.on(WebSocketShardEvents.Resumed, () => log.info({ adapter: "discord" }, "Discord: Gateway session resumed"));
  manager.on(WebSocketShardEvents.Closed, (code) => log.debug({ adapter: "discord", code }, "Discord Gateway connection closed"));
  manager.on(WebSocketShardEvents.Error, (err) => log.error({ adapter: "discord", err }, "Discord Gateway error"));

  /** Connects, and keeps trying while the Gateway cannot be reached at all; a refusal ends it. */
  async function connect(): Promise<void> {
    let wait = RETRY_MIN_MS;
    while (!stopped) {
      try {
        await manager.connect();
        return;
      } catch (err) {
        if (stopped) return;
        if (fatal(err)) {
          log.error({ adapter: "discord", err }, "Discord refused the Gateway connection (check DISCORD_BOT_TOKEN); interactions cannot arrive");
          throw err;
        }
        log.warn({ adapter: "discord", err }, `could not reach the Discord Gateway; trying again in ${Math.round(wait / 1000)} s`);
        await new Promise<void>((r) => {
          const timer = setTimeout(r, wait);
          wake = () => (clearTimeout(timer), r());
        });
        wait = Math.min(RETRY_MAX_MS, wait * 2);
      }
    }
  }

  const ready = connect();
  // Whoever does not wait for it still sees the refusal in the log.
  ready.catch(() => {});
  return {
    ready,
    async stop() {
      stopped = true;
      wake();
      await manager.destroy();
    },
  };
}
