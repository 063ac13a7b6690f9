/**
 * Rate limits as described in discord-api-docs `topics/rate-limits.mdx`:
 * - per-route buckets keyed by the route and its top-level resource (channel id, guild id,
 *   or webhook id + token), reported through X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket;
 * - a global limit of 50 requests per second per bot token, which interaction endpoints
 *   (callbacks and interaction webhooks) do not count against;
 * - 429 bodies `{ message, retry_after (float seconds), global }`, a `Retry-After` header,
 *   `X-RateLimit-Scope` (user | global | shared) and `X-RateLimit-Global` on global limits.
 * Discord does not publish per-route numbers ("should not be hard coded"); message create and
 * edit default to the long-observed 5 per 5 s per channel (discord-api-docs#20), everything
 * else to a loose default.
 */
import { createHash } from 'node:crypto';
import type { FakeClock } from './discord-clock.js';

export interface RouteLimit {
  limit: number;
  windowMs: number;
}

export interface BucketState {
  limit: number;
  remaining: number;
  resetAt: number;
  hash: string;
}

export type TakeResult = { ok: true; state: BucketState } | { ok: false; state: BucketState; retryAfterMs: number };

export const DEFAULT_MESSAGE_LIMIT: RouteLimit = { limit: 5, windowMs: 5_000 };
export const DEFAULT_ROUTE_LIMIT: RouteLimit = { limit: 50, windowMs: 1_000 };
/** rate-limits.mdx: "All bots can make up to 50 requests per second to our API." */
export const GLOBAL_LIMIT: RouteLimit = { limit: 50, windowMs: 1_000 };

interface Window {
  count: number;
  resetAt: number;
}

export class RateLimiter {
  private readonly routeLimits = new Map<string, RouteLimit>();
  private readonly windows = new Map<string, Window>();
  private readonly globalWindows = new Map<string, Window>();

  constructor(
    private readonly clock: FakeClock,
    private readonly defaultLimit: RouteLimit,
    private readonly globalLimit: RouteLimit,
    initial: Record<string, RouteLimit>,
  ) {
    for (const [route, limit] of Object.entries(initial)) this.setRouteLimit(route, limit);
  }

  setRouteLimit(routeKey: string, limit: RouteLimit): void {
    if (!(limit.limit >= 1) || !(limit.windowMs > 0)) throw new RangeError(`bad limit for ${routeKey}: ${JSON.stringify(limit)}`);
    this.routeLimits.set(routeKey, limit);
    for (const key of this.windows.keys()) if (key.startsWith(`${routeKey}\u0000`)) this.windows.delete(key);
  }

  limitFor(routeKey: string): RouteLimit {
    return this.routeLimits.get(routeKey) ?? this.defaultLimit;
  }

  /** Current bucket state without counting a request. */
  peek(routeKey: string, major: string): BucketState {
    const limit = this.limitFor(routeKey);
    const w = this.current(this.windows, `${routeKey}\u0000${major}`, limit);
    return { limit: limit.limit, remaining: Math.max(0, limit.limit - w.count), resetAt: w.resetAt, hash: bucketHash(routeKey) };
  }

  /** Counts one request against the route bucket. */
  take(routeKey: string, major: string): TakeResult {
    const limit = this.limitFor(routeKey);
    const w = this.current(this.windows, `${routeKey}\u0000${major}`, limit);
    if (w.count >= limit.limit) {
      return { ok: false, state: this.peek(routeKey, major), retryAfterMs: w.resetAt - this.clock.now() };
    }
    w.count += 1;
    return { ok: true, state: this.peek(routeKey, major) };
  }

  /** Counts one request against the bot token's global limit. */
  takeGlobal(token: string): { ok: true } | { ok: false; retryAfterMs: number } {
    const w = this.current(this.globalWindows, token, this.globalLimit);
    if (w.count >= this.globalLimit.limit) return { ok: false, retryAfterMs: w.resetAt - this.clock.now() };
    w.count += 1;
    return { ok: true };
  }

  /** Fixed windows that start with the first request after the previous one ended. */
  private current(map: Map<string, Window>, key: string, limit: RouteLimit): Window {
    const now = this.clock.now();
    let w = map.get(key);
    if (!w || now >= w.resetAt) {
      w = { count: 0, resetAt: now + limit.windowMs };
      map.set(key, w);
    }
    return w;
  }

  headers(state: BucketState): Record<string, string> {
    const now = this.clock.now();
    return {
      'x-ratelimit-limit': String(state.limit),
      'x-ratelimit-remaining': String(state.remaining),
      'x-ratelimit-reset': (state.resetAt / 1000).toFixed(3),
      'x-ratelimit-reset-after': (Math.max(0, state.resetAt - now) / 1000).toFixed(3),
      'x-ratelimit-bucket': state.hash,
    };
  }
}

/** The 429 response parts: JSON body plus headers (Retry-After in whole seconds, rounded up). */
export function rateLimitedResponse(
  retryAfterMs: number,
  scope: 'user' | 'global' | 'shared',
): {
  body: { message: string; retry_after: number; global: boolean };
  headers: Record<string, string>;
} {
  const seconds = Math.max(0.001, retryAfterMs / 1000);
  const global = scope === 'global';
  const headers: Record<string, string> = {
    'retry-after': String(Math.ceil(seconds)),
    'x-ratelimit-scope': scope,
  };
  if (global) headers['x-ratelimit-global'] = 'true';
  return { body: { message: 'You are being rate limited.', retry_after: Number(seconds.toFixed(3)), global }, headers };
}

/** Opaque per-route bucket id, the same for every major parameter of the route, as Discord's are. */
function bucketHash(routeKey: string): string {
  return createHash('sha1').update(routeKey).digest('hex').slice(0, 32);
}
