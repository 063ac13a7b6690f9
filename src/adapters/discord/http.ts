import type { IncomingMessage, ServerResponse } from "node:http";
import type { APIInteraction } from "discord-api-types/v10";
import { readBody } from "../http/body.js";
import { checkInteraction } from "./inbound.js";
import { createInteractionHandler, type InteractionDeps } from "./interactions.js";
import { createDiscordVerifier } from "./verify.js";

export interface DiscordReceiverDeps extends InteractionDeps {
  /** The application's public key, 64 hex characters (DISCORD_PUBLIC_KEY). */
  readonly publicKey: string;
}

/** Interaction payloads are small; anything this big is not from Discord. */
const MAX_BODY_BYTES = 1024 * 1024;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value : undefined;
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}

/**
 * The HTTP endpoint Discord posts interactions to (`/discord/interactions`):
 * signature check, PING, commands, autocomplete, button clicks and modal
 * submissions. Every first answer is the HTTP response itself.
 */
export function createDiscordReceiver(deps: DiscordReceiverDeps): {
  listener: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
} {
  const verify = createDiscordVerifier(deps.publicKey);
  const handle = createInteractionHandler(deps);

  async function listener(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") return sendText(res, 405, "Method not allowed\n");
    const body = await readBody(req, MAX_BODY_BYTES);
    if (!body) return sendText(res, 413, "Request too large\n");
    // Discord probes with bad signatures and drops endpoints that accept them.
    if (!verify(header(req, "x-signature-ed25519"), header(req, "x-signature-timestamp"), body)) {
      return sendText(res, 401, "invalid request signature\n");
    }
    let payload: APIInteraction;
    try {
      payload = JSON.parse(body.toString("utf8")) as APIInteraction;
    } catch {
      return sendText(res, 400, "Malformed JSON\n");
    }
    const problem = checkInteraction(payload);
    if (problem) return sendText(res, 400, `Malformed interaction: ${problem}\n`);
    let markAnswered = () => {};
    const answered = new Promise<void>((r) => (markAnswered = r));
    res.once("finish", markAnswered);
    res.once("close", markAnswered);
    const response = await handle(payload, answered);
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(response));
  }

  return { listener };
}
