import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";

/**
 * Who may reach the playground: a browser on this machine that opened the
 * link testum printed at start. Four checks, each for its own attack:
 * - the Host header must name this machine (a loopback name or address with
 *   the playground's port, the configured PUBLIC_URL host, or the address it
 *   listens on): a page whose name was re-pointed at 127.0.0.1 (DNS
 *   rebinding) is refused;
 * - the per-start key, taken from the printed link into a SameSite=Strict,
 *   HttpOnly cookie: other local users and programs do not have it, and no
 *   other site's page can send it;
 * - POSTs must carry an Origin equal to the page's own;
 * - the page cannot be framed (clickjacking the Approve buttons).
 */
export interface PlaygroundAccess {
  /** The key of this start (base64url); the printed link carries it as `?k=`. */
  readonly key: string;
  /** Host header values accepted, `name:port` in lower case; read per request (the port is known once listening). */
  allowedHosts(): readonly string[];
}

export function newPlaygroundKey(): string {
  return randomBytes(24).toString("base64url");
}

/** Host header values that name this machine: loopback names and addresses with `port`, and `extra` (name:port). */
export function hostsFor(port: number, extra: readonly string[] = []): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, ...extra.map((h) => h.toLowerCase())];
}

/** The Host header of a URL as browsers send it: the port left out when it is the scheme's default. */
export function hostOfUrl(url: string): string {
  return new URL(url).host.toLowerCase();
}

/** True for an address only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopback(address: string): boolean {
  const bare = address.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || (isIP(bare) === 4 && bare.startsWith("127."));
}

/** Security headers on every playground answer. */
export const GUARD_HEADERS = {
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
} as const;

const cookieName = (host: string) => `testum_playground_${(host.split(":").pop() ?? "").replace(/\D/g, "") || "0"}`;

function sameKey(given: string | undefined, key: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export type Verdict =
  | { readonly ok: true }
  /** The request is answered already (refused, or the key was taken into a cookie). */
  | { readonly ok: false };

function refuse(res: ServerResponse, status: number, message: string, html: boolean): Verdict {
  if (html) {
    res.writeHead(status, {
      ...GUARD_HEADERS,
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    });
    const escaped = message.replace(/&/g, "&amp;").replace(/</g, "&lt;");
    res.end(
      `<!doctype html><html><head><meta charset="utf-8"><title>testum playground</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}</style></head><body><h1>testum playground</h1><p>${escaped}</p></body></html>`,
    );
  } else {
    res.writeHead(status, { ...GUARD_HEADERS, "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
    res.end(JSON.stringify({ error: message }));
  }
  return { ok: false };
}

/** Checks one request; answers it itself when it may not go on. */
export function guardRequest(req: IncomingMessage, res: ServerResponse, access: PlaygroundAccess): Verdict {
  const host = (req.headers.host ?? "").toLowerCase();
  const page = req.method === "GET" && new URL(req.url ?? "/", "http://x").pathname === "/";
  const allowed = access.allowedHosts();
  if (!allowed.includes(host)) {
    return refuse(
      res,
      421,
      `This playground answers only at ${allowed
        .slice(0, 2)
        .map((h) => `http://${h}/`)
        .join(" or ")}; a request for "${host || "(no Host)"}" is refused.`,
      page,
    );
  }
  const name = cookieName(host);
  const url = new URL(req.url ?? "/", `http://${host}`);
  const offered = url.searchParams.get("k");
  if (page && offered !== null) {
    if (!sameKey(offered, access.key)) {
      return refuse(
        res,
        403,
        "This link's key is not the current one: testum makes a new key at every start. Open the link it printed when it started last (it ends in ?k=…).",
        true,
      );
    }
    // The key moves into a cookie no other site's page can send, and out of the address bar.
    res.writeHead(303, { ...GUARD_HEADERS, location: "/", "cache-control": "no-store", "set-cookie": `${name}=${access.key}; HttpOnly; SameSite=Strict; Path=/` });
    res.end();
    return { ok: false };
  }
  if (!sameKey(cookie(req, name), access.key)) {
    return refuse(res, 401, "Open the playground with the link testum printed when it started (it carries a key, ?k=…). The key changes at every start.", page);
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    const origin = req.headers.origin;
    if (origin !== `http://${host}` && origin !== `https://${host}`) {
      return refuse(res, 403, `requests must come from the playground page itself (Origin ${origin ?? "missing"})`, false);
    }
  }
  return { ok: true };
}
