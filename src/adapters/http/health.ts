import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Sql } from "../../core/db.js";
import type { LogStore, Logger } from "../../core/ports.js";

export type Listener = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface ProbeDeps {
  readonly sql: Sql;
  /** Answers when Redis answers. */
  readonly pingRedis: () => Promise<void>;
  readonly logs: LogStore;
  readonly log: Logger;
}

export function send(res: ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": type, "x-content-type-options": "nosniff", "cache-control": "no-store", "referrer-policy": "no-referrer" });
  res.end(body);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}

/**
 * `/readyz`: ready when Postgres and Redis answer (503 saying which did not, never why).
 * The log store is reported too, but does not make testum unready: commands
 * still run while it is away, and each job says that its log could not be stored.
 */
export async function readyz(deps: ProbeDeps, res: ServerResponse): Promise<void> {
  const checks = await Promise.allSettled([
    withTimeout(deps.sql`select 1`, 2000, "Postgres"),
    withTimeout(deps.pingRedis(), 2000, "Redis"),
    withTimeout(deps.logs.check(2000), 2500, "the log store"),
  ]);
  const [pg, redis, logs] = checks.map((c) => (c.status === "fulfilled" ? "ok" : String((c.reason as Error).message)));
  // The reasons (addresses, ports, library errors) go to testum's log, never to whoever asks.
  const problems = { postgres: pg, redis, logs };
  if (Object.values(problems).some((p) => p !== "ok")) deps.log.warn({ problems }, "not ready");
  const ok = pg === "ok" && redis === "ok";
  const said = (p: string | undefined) => (p === "ok" ? "ok" : "unavailable");
  send(res, ok ? 200 : 503, JSON.stringify({ postgres: said(pg), redis: said(redis), logs: said(logs) }), "application/json");
}

/**
 * A worker's own small HTTP side: `/healthz` (the process runs), `/readyz`
 * (PostgreSQL and Redis answer) and any extra GET routes (metrics). It serves
 * no job pages, logs or chat endpoints.
 */
export function createProbeServer(deps: ProbeDeps & { readonly routes?: Readonly<Record<string, Listener>> }): Server {
  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "Method not allowed\n");
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path === "/healthz") return send(res, 200, "ok\n");
    if (path === "/readyz") return readyz(deps, res);
    const extra = deps.routes?.[path];
    if (extra) return extra(req, res);
    return send(res, 404, "Not found\n");
  }
  return createServer((req, res) => {
    route(req, res).catch((err) => {
      deps.log.error({ err, url: req.url }, "HTTP request failed");
      if (!res.headersSent) send(res, 500, "Internal error\n");
      else res.destroy();
    });
  });
}
