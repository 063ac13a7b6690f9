/**
 * Who a message would ping, per message.mdx "Allowed Mentions Object":
 * - without `allowed_mentions`, everything in `content` is parsed (users, roles, @everyone/@here);
 * - with it, only the `parse` types plus the listed `users`/`roles` ids that also appear in content;
 * - `replied_user` defaults to false once `allowed_mentions` is sent; without it a reply pings its author;
 * - mentions are only read from `content` (never embeds), and Discord parses them server-side
 *   whatever the markdown around them, so a code fence does not stop a ping;
 * - ephemeral messages notify nobody.
 * The fake assumes the bot holds MENTION_EVERYONE and that roles are mentionable unless created
 * otherwise, i.e. the worst case, so a test asserting "nothing pinged" is meaningful.
 */
import type { AllowedMentions } from './discord-limits.js';

export interface PingOutcome {
  everyone: boolean;
  here: boolean;
  users: string[];
  roles: string[];
  /** True when anybody would be notified. */
  any: boolean;
}

export interface MentionContext {
  inGuild: boolean;
  ephemeral: boolean;
  /** Role id → mentionable. Unknown role ids never ping. */
  roleMentionable(roleId: string): boolean | undefined;
  /** Author of the message being replied to, if this is a reply. */
  repliedAuthorId?: string;
}

const USER_RE = /<@!?(\d{17,20})>/g;
const ROLE_RE = /<@&(\d{17,20})>/g;

export const NO_PINGS: PingOutcome = Object.freeze({ everyone: false, here: false, users: [], roles: [], any: false }) as PingOutcome;

export function resolvePings(content: string, allowed: AllowedMentions | undefined, ctx: MentionContext): PingOutcome {
  if (ctx.ephemeral) return { ...NO_PINGS, users: [], roles: [] };
  const parseAll = allowed === undefined;
  const parse = new Set(allowed?.parse ?? []);
  const userIds = unique([...content.matchAll(USER_RE)].map((m) => m[1]!));
  const roleIds = unique([...content.matchAll(ROLE_RE)].map((m) => m[1]!));

  const users = userIds.filter((id) => parseAll || parse.has('users') || allowed?.users?.includes(id));
  const roles = ctx.inGuild ? roleIds.filter((id) => ctx.roleMentionable(id) === true && (parseAll || parse.has('roles') || allowed?.roles?.includes(id))) : [];
  const everyoneAllowed = ctx.inGuild && (parseAll || parse.has('everyone'));
  const everyone = everyoneAllowed && content.includes('@everyone');
  const here = everyoneAllowed && content.includes('@here');

  if (ctx.repliedAuthorId !== undefined && (parseAll || allowed?.replied_user === true) && !users.includes(ctx.repliedAuthorId)) {
    users.push(ctx.repliedAuthorId);
  }
  return { everyone, here, users, roles, any: everyone || here || users.length > 0 || roles.length > 0 };
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}
