import { z } from "zod";

/**
 * The shape of an interaction, as far as testum reads it
 * (interactions/receiving-and-responding.mdx). A signed body that does not
 * fit is answered 400 before any handler sees it, so a malformed field can
 * never become a TypeError deep inside one. Unknown fields pass through.
 */

const snowflake = z.string().regex(/^\d{1,25}$/);
const text = z.string().max(1_000_000);

type Option = { name: string; type: number; value?: string | number | boolean | undefined; focused?: boolean | undefined; options?: Option[] | undefined };
const option: z.ZodType<Option> = z.lazy(() =>
  z.object({
    name: text,
    type: z.number().int(),
    value: z.union([text, z.number().finite(), z.boolean()]).optional(),
    focused: z.boolean().optional(),
    options: z.array(option).max(25).optional(),
  }),
);

const common = {
  id: snowflake,
  application_id: snowflake.optional(),
  token: text,
  locale: text.optional(),
  guild_id: snowflake.optional(),
  channel_id: snowflake.optional(),
  channel: z.object({ id: snowflake }).passthrough().optional(),
  member: z
    .object({
      user: z.object({ id: snowflake, username: text, global_name: text.nullish() }).passthrough(),
      nick: text.nullish(),
      roles: z.array(snowflake).optional(),
    })
    .passthrough()
    .optional(),
  user: z.object({ id: snowflake }).passthrough().optional(),
  authorizing_integration_owners: z.record(z.string(), z.string()).optional(),
};

const interaction = z.discriminatedUnion("type", [
  z.object({ type: z.literal(1) }).passthrough(),
  z
    .object({
      ...common,
      type: z.literal(2),
      data: z.object({ type: z.number().int().optional(), name: text, options: z.array(option).max(25).optional(), resolved: z.object({}).passthrough().optional() }).passthrough(),
    })
    .passthrough(),
  z.object({ ...common, type: z.literal(4), data: z.object({ name: text, options: z.array(option).max(25).optional() }).passthrough() }).passthrough(),
  z
    .object({
      ...common,
      type: z.literal(3),
      data: z.object({ custom_id: text, component_type: z.number().int() }).passthrough(),
      message: z.object({ id: snowflake }).passthrough(),
    })
    .passthrough(),
  z.object({ ...common, type: z.literal(5), data: z.object({ custom_id: text, components: z.array(z.unknown()).max(25) }).passthrough() }).passthrough(),
]);

/** Types Discord may add later: answered with the private "not something testum does" note, not refused. */
const KNOWN_TYPES = new Set([1, 2, 3, 4, 5]);

/** Undefined when the payload fits the interaction shapes testum reads, else what is wrong. */
export function checkInteraction(payload: unknown): string | undefined {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return 'expected a JSON object with a numeric "type"';
  const type = (payload as { type?: unknown }).type;
  if (typeof type !== "number") return 'expected a JSON object with a numeric "type"';
  if (!KNOWN_TYPES.has(type)) return undefined;
  const parsed = interaction.safeParse(payload);
  return parsed.success ? undefined : z.prettifyError(parsed.error).slice(0, 300);
}
