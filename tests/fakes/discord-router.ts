/**
 * Route table of the fake Discord REST API (paths relative to `/api/v10`).
 * A route key is `METHOD /template`; it names the rate-limit bucket too.
 */

export const ROUTE_KEYS = [
  'GET /gateway/bot',
  'GET /users/@me',
  'GET /guilds/:guild_id/members/:user_id',
  'GET /channels/:channel_id',
  'PATCH /channels/:channel_id',
  'GET /channels/:channel_id/messages',
  'POST /channels/:channel_id/messages',
  'GET /channels/:channel_id/messages/:message_id',
  'PATCH /channels/:channel_id/messages/:message_id',
  'DELETE /channels/:channel_id/messages/:message_id',
  'POST /channels/:channel_id/messages/:message_id/threads',
  'POST /channels/:channel_id/threads',
  'GET /applications/:application_id/commands',
  'PUT /applications/:application_id/commands',
  'GET /applications/:application_id/guilds/:guild_id/commands',
  'PUT /applications/:application_id/guilds/:guild_id/commands',
  'POST /interactions/:interaction_id/:interaction_token/callback',
  'POST /webhooks/:application_id/:interaction_token',
  'GET /webhooks/:application_id/:interaction_token/messages/:message_id',
  'PATCH /webhooks/:application_id/:interaction_token/messages/:message_id',
  'DELETE /webhooks/:application_id/:interaction_token/messages/:message_id',
] as const;

export type DiscordRouteKey = (typeof ROUTE_KEYS)[number];

export interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
}

export interface RouteResponse {
  status: number;
  body?: unknown;
}

export interface RouteDef {
  key: DiscordRouteKey;
  method: string;
  /** Bot routes need `Authorization: Bot <token>`; interaction callbacks and webhooks need none. */
  auth: 'bot' | 'none';
  /** rate-limits.mdx: interaction endpoints are not bound to the bot's global limit. */
  globalExempt: boolean;
  /** Top-level resource of the bucket: channel id, guild id, or webhook id + token. */
  major(params: Record<string, string>): string;
  handle(ctx: RouteContext): RouteResponse;
  pattern: RegExp;
  names: string[];
}

export function route(
  key: DiscordRouteKey,
  handle: (ctx: RouteContext) => RouteResponse,
  opts: { auth?: 'bot' | 'none'; globalExempt?: boolean; major?: (p: Record<string, string>) => string } = {},
): RouteDef {
  const [method, template] = key.split(' ') as [string, string];
  const names: string[] = [];
  const source = template
    .split('/')
    .map((seg) => {
      if (!seg.startsWith(':')) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(seg.slice(1));
      return '([^/]+)';
    })
    .join('/');
  return {
    key,
    method,
    auth: opts.auth ?? 'bot',
    globalExempt: opts.globalExempt ?? false,
    major: opts.major ?? ((p) => p.channel_id ?? p.guild_id ?? ''),
    handle,
    pattern: new RegExp(`^${source}$`),
    names,
  };
}

export type RouteMatch = { route: RouteDef; params: Record<string, string> } | { route: null; methodMismatch: boolean };

export function matchRoute(routes: readonly RouteDef[], method: string, path: string): RouteMatch {
  let methodMismatch = false;
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    if (r.method !== method) {
      methodMismatch = true;
      continue;
    }
    const params: Record<string, string> = {};
    r.names.forEach((name, i) => {
      params[name] = decodeURIComponent(m[i + 1]!);
    });
    return { route: r, params };
  }
  return { route: null, methodMismatch };
}

export const ok = (body: unknown, status = 200): RouteResponse => ({ status, body });
export const noContent = (): RouteResponse => ({ status: 204 });
