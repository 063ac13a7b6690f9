import { DiscordAPIError, HTTPError, RateLimitError } from "@discordjs/rest";
import type { API } from "@discordjs/core/http-only";
import type { PeopleLookup, PersonNow } from "../../core/ports.js";
import { discordRoleIdentity } from "./refs.js";

/** A fresh answer is reused this long, so schedules firing every second stay within Discord's limits. */
const FRESH_MS = 5000;

/** Discord's answers that say the member is not there (topics/opcodes-and-status-codes.mdx). */
const GONE = new Set([10004 /* Unknown Guild */, 10007 /* Unknown Member */, 10013 /* Unknown User */]);

function classify(err: unknown): PersonNow {
  if (err instanceof DiscordAPIError) {
    const detail = `Discord: ${err.message.split("\n")[0]} (${err.code})`;
    if (typeof err.code === "number" && GONE.has(err.code)) return { state: "gone", detail };
    if (err.status === 429 || err.status >= 500) return { state: "unavailable", detail };
    return { state: "refused", detail };
  }
  if (err instanceof RateLimitError) return { state: "unavailable", detail: "Discord: rate limited" };
  if (err instanceof HTTPError) return { state: "unavailable", detail: `Discord: HTTP ${err.status}` };
  return { state: "unavailable", detail: `Discord: ${(err as Error)?.message ?? String(err)}` };
}

/**
 * Who a guild member is now, for work done later in their name: Get Guild
 * Member says whether they are still in the guild and which roles they hold.
 */
export function createDiscordPeople(api: Pick<API, "guilds">): PeopleLookup {
  const members = new Map<string, { at: number; answer: Promise<PersonNow> }>();

  const fetchMember = async (guild: string, user: string): Promise<PersonNow> => {
    try {
      const member = await api.guilds.getMember(guild, user);
      return { state: "present", groups: (member.roles ?? []).map((role) => discordRoleIdentity(guild, role)) };
    } catch (err) {
      return classify(err);
    }
  };

  return {
    lookUp(identity, _conversation, options) {
      const [platform, guild, user, ...rest] = identity.split(":");
      if (platform !== "discord" || !guild || !user || rest.length > 0) return Promise.resolve({ state: "refused", detail: `not a Discord member identity: ${identity}` });
      const cached = members.get(identity);
      if (cached && !options?.fresh && Date.now() - cached.at < FRESH_MS) return cached.answer;
      if (members.size > 1000) for (const [k, v] of members) if (Date.now() - v.at >= FRESH_MS) members.delete(k);
      const answer = fetchMember(guild, user);
      members.set(identity, { at: Date.now(), answer });
      // Only a clear answer is kept: a failure is asked again next time.
      void answer.then((a) => a.state === "unavailable" && members.delete(identity));
      return answer;
    },
  };
}
