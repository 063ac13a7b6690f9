import { z } from "zod";

/**
 * The shapes of what Slack sends to /slack/events, as far as testum and Bolt
 * read them (api.slack.com: slash commands, block_actions, view_submission).
 * A signed request that does not fit is answered 400 before Bolt or any
 * handler sees it, so a malformed payload can never become a TypeError deep
 * inside a handler.
 */

const id = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);
const text = z.string().max(1_000_000);
const user = z.object({ id, team_id: id.optional(), username: text.optional(), name: text.optional() });
const team = z.object({ id }).nullish();
const enterprise = z.object({ id }).nullish();

const slashCommand = z.object({
  command: text,
  text: text.optional(),
  team_id: id,
  user_id: id,
  user_name: text.optional(),
  channel_id: id,
  enterprise_id: z.union([id, z.literal("")]).optional(),
  response_url: z.string().url().optional(),
  trigger_id: text,
});

const blockActions = z.object({
  type: z.literal("block_actions"),
  user,
  team,
  enterprise,
  // Bolt reads channel.id whenever the key is there (helpers.getTypeAndConversation).
  channel: z.object({ id }).optional(),
  container: z.object({ channel_id: id.optional(), message_ts: text.optional() }).passthrough().nullish(),
  message: z.object({ ts: text }).passthrough().nullish(),
  actions: z.array(z.object({ action_id: text, type: text, value: text.optional(), block_id: text.optional() }).passthrough()).min(1),
  trigger_id: text,
  response_url: z.string().url().optional(),
});

const viewSubmission = z.object({
  type: z.literal("view_submission"),
  user,
  team,
  enterprise,
  view: z
    .object({
      id: text,
      callback_id: text,
      private_metadata: text.optional(),
      state: z.object({ values: z.record(z.string(), z.record(z.string(), z.object({ value: text.nullish() }).passthrough())) }),
    })
    .passthrough(),
  trigger_id: text.optional(),
});

/** Forms Bolt answers by itself. */
const BOLT_OWN = ["ssl_check"];

/** Undefined when an HTTP body fits one of the shapes testum handles, else what is wrong. */
export function checkSlackBody(raw: string): string | undefined {
  const form = new URLSearchParams(raw);
  if (BOLT_OWN.some((k) => form.has(k))) return undefined;
  const payload = form.get("payload");
  if (payload === null) return checkSlashCommand(Object.fromEntries(form));
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return "the payload is not JSON";
  }
  return checkInteraction(json);
}

/**
 * The same for a Socket Mode envelope's payload: the slash command's fields
 * as a JSON object, or the interaction itself.
 */
export function checkSlackPayload(payload: unknown): string | undefined {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return "the payload is not a JSON object";
  return "command" in payload ? checkSlashCommand(payload) : checkInteraction(payload);
}

function checkSlashCommand(fields: unknown): string | undefined {
  const parsed = slashCommand.safeParse(fields);
  return parsed.success ? undefined : "not a slash command: " + z.prettifyError(parsed.error).slice(0, 300);
}

function checkInteraction(json: unknown): string | undefined {
  const parsed = z.union([blockActions, viewSubmission]).safeParse(json);
  return parsed.success ? undefined : "not an interaction testum handles: " + z.prettifyError(parsed.error).slice(0, 300);
}
