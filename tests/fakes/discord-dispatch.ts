/**
 * Request pipeline of the fake Discord REST API, in Discord's order: route lookup →
 * bot-token check (401) → injected failures → global limit (bot routes only) → route
 * bucket → body parsing → handler. Every routed response carries the bucket's
 * X-RateLimit-* headers, as Discord's do.
 */
import type { FakeClock } from './discord-clock.js';
import { DiscordHttpError, discordErrors } from './discord-errors.js';
import { type RateLimiter, rateLimitedResponse } from './discord-ratelimit.js';
import { type DiscordRouteKey, type RouteDef, matchRoute } from './discord-router.js';

export interface FailureSpec {
  status: number;
  code?: number;
  message?: string;
  /** Seconds, for 429s. Default 1. */
  retryAfter?: number;
  /** For 429s: report a global limit. */
  global?: boolean;
}

export interface RouteMatcher {
  method?: string;
  /** Tested against the path after `/api/v10`, without the query string. */
  pathPattern: RegExp;
}

export interface InjectedFailure {
  matcher: RouteMatcher;
  failure: FailureSpec;
  remaining: number;
}

export interface DispatchRequest {
  method: string;
  url: URL;
  authorization: string | undefined;
  contentType: string | undefined;
  raw: Buffer | DiscordHttpError;
}

export interface DispatchResult {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  route: DiscordRouteKey | null;
  path: string;
  requestBody: unknown;
}

export const API_PREFIX = '/api/v10';

export function createDispatcher(deps: {
  routes: readonly RouteDef[];
  limiter: RateLimiter;
  clock: FakeClock;
  botToken: string;
  failures: InjectedFailure[];
}): (req: DispatchRequest) => DispatchResult {
  const { routes, limiter, clock, botToken, failures } = deps;

  return (req) => {
    const versioned = req.url.pathname.startsWith(`${API_PREFIX}/`);
    const path = versioned ? req.url.pathname.slice(API_PREFIX.length) : req.url.pathname;
    const match = versioned ? matchRoute(routes, req.method, path) : { route: null, methodMismatch: false };
    const result: DispatchResult = { status: 500, body: undefined, headers: {}, route: match.route?.key ?? null, path, requestBody: undefined };
    const fail = (error: DiscordHttpError) => Object.assign(result, { status: error.status, body: error.body });
    const limited = (retryAfterMs: number, scope: 'user' | 'global') => {
      const r = rateLimitedResponse(retryAfterMs, scope);
      return Object.assign(result, { status: 429, body: r.body, headers: { ...result.headers, ...r.headers } });
    };

    try {
      if (!match.route) return fail(match.methodMismatch ? discordErrors.methodNotAllowed() : discordErrors.notFound());
      const { route, params } = match;
      const major = route.major(params);
      result.headers = limiter.headers(limiter.peek(route.key, major));
      if (route.auth === 'bot' && req.authorization !== `Bot ${botToken}`) return fail(discordErrors.unauthorized());

      const injected = failures.find((f) => f.remaining > 0 && (!f.matcher.method || f.matcher.method.toUpperCase() === req.method) && f.matcher.pathPattern.test(path));
      if (injected) {
        injected.remaining -= 1;
        const { failure } = injected;
        if (failure.status !== 429) {
          return Object.assign(result, { status: failure.status, body: { code: failure.code ?? 0, message: failure.message ?? `${failure.status}: injected failure` } });
        }
        const retryMs = (failure.retryAfter ?? 1) * 1000;
        const bucket = limiter.peek(route.key, major);
        result.headers = limiter.headers({ ...bucket, remaining: 0, resetAt: clock.now() + retryMs });
        return limited(retryMs, failure.global ? 'global' : 'user');
      }

      if (route.auth === 'bot' && !route.globalExempt) {
        const g = limiter.takeGlobal(botToken);
        if (!g.ok) return limited(g.retryAfterMs, 'global');
      }
      const taken = limiter.take(route.key, major);
      result.headers = limiter.headers(taken.state);
      if (!taken.ok) return limited(taken.retryAfterMs, 'user');

      if (req.raw instanceof DiscordHttpError) return fail(req.raw);
      result.requestBody = parseBody(req.raw, req.contentType);
      const response = route.handle({ params, query: req.url.searchParams, body: result.requestBody });
      result.status = response.status;
      result.body = response.body;
      return result;
    } catch (error) {
      if (error instanceof DiscordHttpError) return fail(error);
      return Object.assign(result, { status: 500, body: { code: 0, message: `fake discord: ${error instanceof Error ? error.stack : String(error)}` } });
    }
  };
}

function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  if (contentType?.startsWith('multipart/form-data')) {
    throw new DiscordHttpError(400, { code: 0, message: 'fake discord: attachments (multipart bodies) are not modelled' });
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw discordErrors.invalidJson();
  }
}
