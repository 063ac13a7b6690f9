import type slackWebApi from "@slack/web-api";
import type { Logger, PeopleLookup, PersonNow } from "../../core/ports.js";

type WebClient = InstanceType<typeof slackWebApi.WebClient>;

/** User groups change rarely; one lookup per workspace a minute is plenty. */
const GROUPS_TTL_MS = 60_000;
/** The answer to Slack must not wait long for group membership. */
const GROUPS_WAIT_MS = 800;

/**
 * Values read from Slack, per key, kept `ttlMs` (or the `ttlMs` a read gives).
 * Only the first read of a key is waited for, at most `waitMs` (then the
 * answer is `fallback`, and the read fills the cache for the next request).
 * Once a value is older, the next request starts a new read and is answered
 * with the old value meanwhile: a request never waits for a refresh, so a
 * slow or unreachable Slack does not hold up an answer once a minute.
 */
function refreshingCache<V>(read: (key: string) => Promise<{ value: V; ttlMs?: number }>, options: { ttlMs: number; waitMs: number; fallback: V; sweepAt?: number }) {
  interface Entry {
    until: number;
    reading: Promise<V>;
    value?: { v: V };
  }
  const cache = new Map<string, Entry>();
  return async (key: string): Promise<V> => {
    let entry = cache.get(key);
    if (!entry || Date.now() > entry.until) {
      if (!entry && options.sweepAt !== undefined && cache.size >= options.sweepAt) for (const [k, e] of cache) if (Date.now() > e.until) cache.delete(k);
      // The old value, if any, answers until the read settles.
      const reading = read(key).then(
        ({ value, ttlMs }) => {
          next.value = { v: value };
          if (ttlMs !== undefined) next.until = Math.min(next.until, Date.now() + ttlMs);
          return value;
        },
        () => next.value?.v ?? options.fallback,
      );
      const next: Entry = { until: Date.now() + options.ttlMs, reading, ...(entry?.value ? { value: entry.value } : {}) };
      cache.set(key, next);
      entry = next;
    }
    if (entry.value) return entry.value.v;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<V>((r) => (timer = setTimeout(() => r(options.fallback), options.waitMs)));
    try {
      return await Promise.race([entry.reading, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * The user groups a user belongs to, as testum identities
 * (`slack:ORG:group:S…`, ORG being the Enterprise Grid org or the workspace), read with usergroups.list. Without the
 * usergroups:read scope there are none, and testum says so once in its log.
 */
export function createGroupLookup(client: WebClient, log: Logger) {
  let warned = false;
  const groupsOf = refreshingCache<Map<string, string[]>>(
    async (team) => {
      try {
        const result = await client.usergroups.list({ team_id: team, include_users: true });
        return { value: new Map((result.usergroups ?? []).map((g) => [String(g.id), (g.users ?? []).map(String)])) };
      } catch (err) {
        if (!warned) log.warn({ err }, "Slack user groups are unavailable (needs the usergroups:read scope); roles bound to groups do not apply");
        warned = true;
        return { value: new Map() };
      }
    },
    { ttlMs: GROUPS_TTL_MS, waitMs: GROUPS_WAIT_MS, fallback: new Map() },
  );
  return async (team: string, org: string, user: string): Promise<string[]> => {
    const groups = await groupsOf(team);
    return [...groups].filter(([, users]) => users.includes(user)).map(([id]) => `slack:${org}:group:${id}`);
  };
}

/** A person's language changes rarely; ten minutes of cache keeps users.info calls few. */
const LOCALE_TTL_MS = 10 * 60_000;
/** A failed lookup (no users:read scope, a network blip) is tried again sooner. */
const LOCALE_RETRY_MS = 60_000;
/** Like the groups, the locale must not hold up the answer to Slack. */
const LOCALE_WAIT_MS = 800;
/** Past this many cached people, expired entries are swept on the next insert. */
const LOCALE_CACHE_SWEEP = 5000;

/**
 * A user's locale (`ru-RU`, `en-US` …) from users.info with include_locale,
 * cached per user (see refreshingCache: a first lookup slower than `waitMs`
 * answers "unknown" this time, the default language).
 */
export function createLocaleLookup(client: Pick<WebClient, "users">, log: Logger, waitMs = LOCALE_WAIT_MS, ttlMs = LOCALE_TTL_MS) {
  let warned = false;
  const localeOf = refreshingCache<string | undefined>(
    async (key) => {
      try {
        const result = await client.users.info({ user: key.slice(key.indexOf(":") + 1), include_locale: true });
        return { value: typeof result.user?.locale === "string" ? result.user.locale : undefined };
      } catch (err) {
        if (!warned) log.warn({ err }, "Slack users.info is unavailable (needs the users:read scope); replies use TESTUM_LANG");
        warned = true;
        return { value: undefined, ttlMs: LOCALE_RETRY_MS };
      }
    },
    { ttlMs, waitMs, fallback: undefined, sweepAt: LOCALE_CACHE_SWEEP },
  );
  return (team: string, user: string): Promise<string | undefined> => localeOf(`${team}:${user}`);
}

/** A fresh answer is reused this long, so schedules firing every second stay within Slack's tiers. */
const FRESH_MS = 5000;

/** Slack errors that say the call may work later (slack_webapi_platform_error codes). */
const TRANSIENT = new Set(["ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"]);
/** users.info: the user does not exist (any more) for this workspace. */
const GONE = new Set(["user_not_found", "users_not_found", "account_inactive_user"]);

type SlackCallError = { code?: string; data?: { error?: string }; statusCode?: number; message?: string };

function classify(err: unknown, what: string): PersonNow {
  const e = err as SlackCallError;
  if (e?.code === "slack_webapi_platform_error" && e.data?.error) {
    const code = e.data.error;
    if (GONE.has(code)) return { state: "gone", detail: `Slack ${what}: ${code}` };
    return { state: TRANSIENT.has(code) ? "unavailable" : "refused", detail: `Slack ${what}: ${code}` };
  }
  if (e?.code === "slack_webapi_http_error") return { state: "unavailable", detail: `Slack ${what}: HTTP ${e.statusCode}` };
  if (e?.code === "slack_webapi_rate_limited_error") return { state: "unavailable", detail: `Slack ${what}: rate limited` };
  return { state: "unavailable", detail: `Slack ${what}: ${e?.message ?? String(err)}` };
}

/**
 * Who a Slack user is now, for work done later in their name: users.info says
 * whether they still exist (deleted: deactivated), usergroups.list which
 * groups they are in. Without the usergroups:read scope groups grant nothing,
 * exactly as for their commands.
 */
export function createSlackPeople(client: Pick<WebClient, "users" | "usergroups">, log: Logger): PeopleLookup {
  const groupLists = new Map<string, { at: number; list: Promise<Map<string, string[]> | PersonNow> }>();
  const accounts = new Map<string, { at: number; answer: Promise<PersonNow | undefined> }>();
  let warned = false;

  const groupsOfTeam = (team: string, fresh: boolean): Promise<Map<string, string[]> | PersonNow> => {
    const cached = groupLists.get(team);
    if (cached && !fresh && Date.now() - cached.at < FRESH_MS) return cached.list;
    const list = client.usergroups.list({ team_id: team, include_users: true }).then(
      (result) => new Map((result.usergroups ?? []).map((g) => [String(g.id), (g.users ?? []).map(String)])),
      (err: unknown) => {
        groupLists.delete(team);
        const said = classify(err, "usergroups.list");
        if ((err as SlackCallError)?.data?.error === "missing_scope") {
          if (!warned) log.warn({ err }, "Slack user groups are unavailable (needs the usergroups:read scope); roles bound to groups do not apply");
          warned = true;
          return new Map<string, string[]>();
        }
        return said;
      },
    );
    groupLists.set(team, { at: Date.now(), list });
    return list;
  };

  const accountOf = (user: string, fresh: boolean): Promise<PersonNow | undefined> => {
    const cached = accounts.get(user);
    if (cached && !fresh && Date.now() - cached.at < FRESH_MS) return cached.answer;
    if (accounts.size > 1000) for (const [k, v] of accounts) if (Date.now() - v.at >= FRESH_MS) accounts.delete(k);
    const answer = client.users.info({ user }).then(
      (info): PersonNow | undefined => (info.user?.deleted ? { state: "gone", detail: "Slack says the account is deactivated" } : undefined),
      (err: unknown) => classify(err, "users.info"),
    );
    accounts.set(user, { at: Date.now(), answer });
    // Only a clear answer is kept: a failure is asked again next time.
    void answer.then((a) => a?.state === "unavailable" && accounts.delete(user));
    return answer;
  };

  return {
    async lookUp(identity, conversation, options) {
      const parts = identity.split(":");
      const user = parts[2];
      if (parts.length !== 3 || !user) return { state: "refused", detail: `not a Slack user identity: ${identity}` };
      const org = parts[1]!;
      const team = conversation.startsWith("slack:") ? conversation.split(":")[1]! : org;
      const [account, groups] = await Promise.all([accountOf(user, options?.fresh === true), groupsOfTeam(team, options?.fresh === true)]);
      if (account) return account;
      if (!(groups instanceof Map)) return groups;
      return { state: "present", groups: [...groups].filter(([, users]) => users.includes(user)).map(([id]) => `slack:${org}:group:${id}`) };
    },
  };
}
