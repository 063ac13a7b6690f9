import { App, type ReceiverEvent, SocketModeReceiver } from "@slack/bolt";
import { REPLAY_WINDOW_MS } from "../../core/app.js";
import type { ReplayGuard } from "../../core/ports.js";
import { boltLogger } from "./bolt-logger.js";
import { registerSlackHandlers, type SlackHandlerDeps } from "./interactions.js";
import { checkSlackPayload } from "./inbound.js";

export interface SlackSocketDeps extends SlackHandlerDeps {
  /** The app-level token (`xapp-…`, scope connections:write). */
  readonly appToken: string;
  /** Each envelope is taken once across every testum process. */
  readonly replay: ReplayGuard;
  /** How requests to Slack go out (metrics count them). */
  readonly fetch?: typeof globalThis.fetch;
}

export interface SlackSocket {
  /** Resolves once every connection is open, or rejects with the reason Slack refused. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Connections held at once. Slack gives each envelope to one open connection
 * and refreshes each connection now and then (a `disconnect` message, then a
 * new connection): with two, one is always open while the other is replaced,
 * so no command arrives while testum has none (Slack allows 10 per app).
 */
const CONNECTIONS = 2;

/**
 * Slack in Socket Mode (api.slack.com/apis/socket-mode): Bolt's own
 * SocketModeReceiver opens the connections with the app-level token, through
 * `apps.connections.open` at SLACK_API_URL, and reconnects by itself. No
 * signing secret and no public URL: the connection is testum's own.
 *
 * Every envelope first passes a gate: one whose payload testum does not
 * understand is acknowledged and dropped (as a malformed HTTP request is
 * answered 400), and one whose envelope id was taken already (a retry, or one
 * another process took) is acknowledged and not acted on again.
 */
export function startSlackSocketMode(deps: SlackSocketDeps): SlackSocket {
  const { log, replay } = deps;
  const clientOptions = { slackApiUrl: deps.settings.apiUrl, ...(deps.fetch ? { fetch: deps.fetch } : {}) };
  const receivers = Array.from(
    { length: CONNECTIONS },
    () =>
      new SocketModeReceiver({
        appToken: deps.appToken,
        logger: boltLogger(log),
        installerOptions: { clientOptions },
        customPropertiesExtractor: (args: { envelope_id?: unknown }) => ({ envelopeId: typeof args.envelope_id === "string" ? args.envelope_id : "" }),
      }),
  );
  const app = new App({
    receiver: receivers[0]!,
    // The token is known; Bolt would otherwise call auth.test before every event.
    authorize: async () => ({ botToken: deps.settings.botToken }),
    logger: boltLogger(log),
    clientOptions: { slackApiUrl: deps.settings.apiUrl, rejectRateLimitedCalls: true },
  });
  // The same handlers as the HTTP endpoint's: the same access checks, replies and audit.
  registerSlackHandlers(app, deps);

  const gate = {
    async processEvent(event: ReceiverEvent): Promise<void> {
      const problem = checkSlackPayload(event.body);
      if (problem) {
        log.warn({ problem }, "dropped a Socket Mode envelope that testum does not understand");
        return void (await event.ack());
      }
      const envelope = String(event.customProperties?.envelopeId ?? "");
      // When Redis cannot say, core refuses the request itself and says why.
      const first = envelope === "" || (await replay.firstTime(`slack-envelope:${envelope}`, REPLAY_WINDOW_MS).catch(() => true));
      if (!first) {
        log.debug({ envelope }, "Socket Mode envelope already taken");
        return void (await event.ack());
      }
      await app.processEvent(event);
    },
  };
  // Every connection hands its envelopes to the gate, which hands them to the one app.
  for (const receiver of receivers) receiver.init(gate as unknown as App);

  receivers.forEach((receiver, i) => {
    const which = `${i + 1} of ${CONNECTIONS}`;
    receiver.client.on("connected", () => log.info({ adapter: "slack", connection: which }, `Slack: Socket Mode connection ${which} open`));
    receiver.client.on("reconnecting", () => log.info({ adapter: "slack", connection: which }, `Slack: Socket Mode connection ${which} reconnecting`));
  });

  const ready = Promise.all(receivers.map((r) => r.start())).then(
    () => undefined,
    (err: unknown) => {
      const code = (err as { data?: { error?: string } }).data?.error;
      log.error(
        { adapter: "slack", err },
        `Slack refused the Socket Mode connection${code ? ` (${code})` : ""}: check SLACK_APP_TOKEN (an app-level token with connections:write) and that Socket Mode is on for the app`,
      );
      throw err;
    },
  );
  // Whoever does not wait for it still sees the refusal in the log.
  ready.catch(() => {});
  return {
    ready,
    async stop() {
      await Promise.all(receivers.map((r) => r.stop().catch(() => {})));
    },
  };
}
