import { App, HTTPReceiver, isValidSlackRequest } from "@slack/bolt";
import type { IncomingMessage, ServerResponse } from "node:http";
import { readBody } from "../http/body.js";
import { boltLogger } from "./bolt-logger.js";
import { registerSlackHandlers, type SlackHandlerDeps } from "./interactions.js";
import { checkSlackBody } from "./inbound.js";

export interface SlackReceiverDeps extends SlackHandlerDeps {
  readonly signingSecret: string;
}

/** Clock difference tolerated for a request dated in the future (the same 5 minutes Bolt allows into the past). */
const MAX_FUTURE_SKEW_S = 300;
/** Bolt's own limit (HTTPModuleFunctions.defaultBodyLimit). */
const SLACK_BODY_LIMIT = 4 * 1024 * 1024;

/**
 * Bolt in HTTP mode with signature verification on, mounted at
 * `/slack/events`: slash commands, button clicks and modal submissions.
 */
export function createSlackReceiver(deps: SlackReceiverDeps): {
  listener: (req: IncomingMessage, res: ServerResponse) => void;
} {
  const { log } = deps;
  const receiver = new HTTPReceiver({
    signingSecret: deps.signingSecret,
    endpoints: "/slack/events",
    processBeforeResponse: false,
    logger: boltLogger(log),
  });
  const app = new App({
    receiver,
    // The token is known; Bolt would otherwise call auth.test before every event, so a Slack
    // outage or rate limit would hold up (and lose) the answer to every command.
    authorize: async () => ({ botToken: deps.settings.botToken }),
    logger: boltLogger(log),
    clientOptions: { slackApiUrl: deps.settings.apiUrl, rejectRateLimitedCalls: true },
  });
  registerSlackHandlers(app, deps);

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
    const signed =
      typeof signature === "string" &&
      Number.isFinite(timestamp) &&
      isValidSlackRequest({ signingSecret: deps.signingSecret, body: raw, headers: { "x-slack-signature": signature, "x-slack-request-timestamp": timestamp } });
    const problem = signed ? checkSlackBody(raw) : undefined;
    if (problem) {
      log.warn({ problem }, "refused a signed Slack request that testum does not understand");
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" }).end(`Malformed Slack request: ${problem}\n`);
      return;
    }
    return receiver.requestListener(req, res);
  }

  return {
    listener: (req, res) =>
      void listener(req, res).catch((err: unknown) => {
        log.error({ err }, "Slack request failed");
        if (!res.headersSent) res.writeHead(400).end();
      }),
  };
}
