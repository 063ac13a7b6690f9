import { platformOf } from "../chat/chat.js";
import type { PeopleLookup, PersonNow } from "../ports.js";

/** Longest a platform may take to say who someone is before the answer counts as unavailable. */
const LOOKUP_MS = 10_000;

/**
 * Finds the platform's lookup by the identity's prefix (`slack:`, `discord:`,
 * `local:`). An identity of a platform testum is no longer configured for
 * cannot be re-resolved; a lookup that throws or does not answer in time is
 * unavailable, never "present".
 */
export function createPeopleDirectory(byPlatform: Readonly<Record<string, PeopleLookup>>, timeoutMs = LOOKUP_MS): PeopleLookup {
  return {
    async lookUp(identity, conversation, options): Promise<PersonNow> {
      const platform = platformOf(identity);
      const lookup = Object.hasOwn(byPlatform, platform) ? byPlatform[platform] : undefined;
      if (!lookup) return { state: "refused", detail: `${platform || "this identity's platform"} is not configured in testum` };
      const late: PersonNow = { state: "unavailable", detail: `no answer within ${Math.round(timeoutMs / 1000)} s` };
      const answer = lookup.lookUp(identity, conversation, options).catch((err: unknown): PersonNow => ({ state: "unavailable", detail: (err as Error)?.message ?? String(err) }));
      return new Promise<PersonNow>((resolve) => {
        const timer = setTimeout(() => resolve(late), timeoutMs);
        timer.unref?.();
        void answer.then((value) => (clearTimeout(timer), resolve(value)));
      });
    },
  };
}
