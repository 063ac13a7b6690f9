/**
 * Token buckets keyed by (team, method[, channel]). Slack applies its limits
 * "per API method per workspace per app" (docs.slack.dev/apis/web-api/rate-limits).
 */
import type { RateLimit } from './slack-types.js';

export const DEFAULT_RATE_LIMITS: Readonly<Record<string, RateLimit>> = {
  /** Tier 3, "50+ per minute", shared by every message in the workspace (chat.update reference). */
  'chat.update': { perMinute: 50, burst: 50, scope: 'team' },
  /** "1 message per second per channel", short bursts allowed (rate-limits page, special tier). */
  'chat.postMessage': { perMinute: 60, burst: 5, scope: 'channel' },
};

export type TakeResult = { ok: true } | { ok: false; retryAfterSec: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export interface RateLimiter {
  /** Takes one token for the call, or says how long until one is available. */
  take(method: string, teamId: string, channel: string | undefined): TakeResult;
  set(method: string, limit: RateLimit | null): void;
  resetBuckets(): void;
}

export function createRateLimiter(now: () => number, overrides: Record<string, RateLimit | null> = {}): RateLimiter {
  const limits = new Map<string, RateLimit>(Object.entries(DEFAULT_RATE_LIMITS));
  const buckets = new Map<string, Bucket>();

  const set = (method: string, limit: RateLimit | null): void => {
    if (limit === null) limits.delete(method);
    else {
      if (!(limit.perMinute > 0) || !(limit.burst >= 1)) {
        throw new RangeError(`rate limit for ${method} needs perMinute > 0 and burst >= 1`);
      }
      limits.set(method, { ...limit });
    }
    for (const key of buckets.keys()) if (key.startsWith(`${method}|`)) buckets.delete(key);
  };
  for (const [method, limit] of Object.entries(overrides)) set(method, limit);

  return {
    set,
    resetBuckets: () => buckets.clear(),
    take(method, teamId, channel) {
      const limit = limits.get(method);
      if (!limit) return { ok: true };
      const key = `${method}|${teamId}|${limit.scope === 'channel' ? (channel ?? '') : ''}`;
      const t = now();
      const perMs = limit.perMinute / 60_000;
      const bucket = buckets.get(key) ?? { tokens: limit.burst, updatedAt: t };
      bucket.tokens = Math.min(limit.burst, bucket.tokens + Math.max(0, t - bucket.updatedAt) * perMs);
      bucket.updatedAt = t;
      buckets.set(key, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { ok: true };
      }
      // Retry-After is integer seconds: web-api reads it with parseInt.
      const waitMs = (1 - bucket.tokens) / perMs;
      return { ok: false, retryAfterSec: Math.max(1, Math.ceil(waitMs / 1000)) };
    },
  };
}
