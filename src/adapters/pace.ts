import { RateLimitedError } from "../core/errors.js";
import type { RateBudget, RateRule } from "../core/ports.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * For calls that must happen (posting a new message, not an edit that a
 * newer frame can replace): waits for the shared budget, and waits out the
 * platform's own rate limits, up to `maxWaitMs` in all.
 */
export async function paced<T>(budget: RateBudget, key: string, rule: RateRule, call: () => Promise<T>, maxWaitMs = 60_000): Promise<T> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const wait = await budget.take(key, rule);
    if (wait > 0) {
      if (Date.now() + wait > deadline) throw new RateLimitedError(wait);
      await sleep(wait);
      continue;
    }
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof RateLimitedError) || Date.now() + err.retryAfterMs > deadline) throw err;
      await sleep(err.retryAfterMs);
    }
  }
}

/** For edits: takes a token if one is there, else says how long to wait. */
export async function takeOrThrow(budget: RateBudget, key: string, rule: RateRule): Promise<void> {
  const wait = await budget.take(key, rule);
  if (wait > 0) throw new RateLimitedError(wait);
}
