import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import type { Sql } from "../../core/db.js";
import { FINAL_STATUSES, findJobByLogToken, listTasks, type Job } from "../../core/jobs/jobs.js";
import { linkState } from "../../core/jobs/links.js";
import type { LogStore, Logger } from "../../core/ports.js";
import { sendGone } from "./gone.js";
import { readyz, send, type Listener } from "./health.js";
import { createJobPages } from "./job-page.js";

export type { Listener } from "./health.js";

export interface HttpDeps {
  readonly sql: Sql;
  readonly logs: LogStore;
  readonly log: Logger;
  /** Answers when Redis answers. */
  readonly pingRedis: () => Promise<void>;
  /** Extra routes by exact path (chat platforms' endpoints). */
  readonly routes: Readonly<Record<string, Listener>>;
  /** How long a job's links open after it starts (TESTUM_LINK_TTL). */
  readonly linkTtlMs: number;
}

/**
 * A request path as testum logs it: link tokens are bearer credentials, so
 * `/logs/TOKEN…`, `/reports/TOKEN` and job-page tokens become `***`.
 */
export function maskLinkTokens(url: string): string {
  return url
    .replace(/^\/(logs|reports)\/[^/?#]+/, "/$1/***")
    .replace(/^(\/jobs\/\d+\/)[^/?#]+/, "$1***")
    .replace(/([?&]t=)[^&#]*/, "$1***");
}

/** decodeURIComponent, or null for a broken %-escape. */
function decodeComponent(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/**
 * testum's HTTP side: health and readiness, log links, and the chat
 * platforms' endpoints (mounted from their adapters).
 */
export function createHttpServer(deps: HttpDeps): Server {
  const { sql, logs, log } = deps;
  const jobPages = createJobPages(sql, deps.linkTtlMs);

  /** The job a log or report token opens, or undefined after answering (404, or 410 once expired or revoked). */
  async function jobOf(res: ServerResponse, token: string, what: "log" | "report"): Promise<Job | undefined> {
    const job = /^[A-Za-z0-9_-]{20,64}$/.test(token) ? await findJobByLogToken(sql, token) : undefined;
    if (!job) return void send(res, 404, `No such ${what}. The link may be mistyped.\n`);
    const state = linkState(job, deps.linkTtlMs);
    if (!state.open) return void sendGone(res, job.id, state, deps.linkTtlMs);
    return job;
  }

  /** `/logs/TOKEN[/HOST]`: redirects to a fresh presigned URL, or serves the bytes. */
  async function serveLog(res: ServerResponse, token: string, hostName: string | undefined, inline: boolean): Promise<void> {
    const job = await jobOf(res, token, "log");
    if (!job) return;
    const tasks = await listTasks(sql, job.id);
    const task = hostName === undefined ? (tasks.length === 1 ? tasks[0] : undefined) : tasks.find((t) => t.hostName === hostName);
    if (!task) return send(res, 404, `Job #${job.id} has no host ${hostName ?? "(name one: /logs/TOKEN/HOST)"}.\n`);
    if (!FINAL_STATUSES.includes(job.status)) {
      return send(res, 409, `Job #${job.id} is still ${job.status}. The full log of ${task.hostName} is stored when it ends; reload then.\n`);
    }
    if (!task.logKey) return send(res, 404, `Job #${job.id} on ${task.hostName} has no stored log${task.error ? `: ${task.error}` : "."}\n`);
    return serveObject(res, task.logKey, `The log of job #${job.id} on ${task.hostName}`, inline);
  }

  /** `/reports/TOKEN`: the job report (every host's status, exit code, duration, log link). */
  async function serveReport(res: ServerResponse, token: string): Promise<void> {
    const job = await jobOf(res, token, "report");
    if (!job) return;
    if (!job.reportKey) {
      if (!FINAL_STATUSES.includes(job.status)) return send(res, 409, `Job #${job.id} is ${job.status.replace("_", " ")}; its report is written when it ends.\n`);
      // Stored just after the job's end; missing for good only when the log store did not take it (the worker logs why).
      return send(res, 404, `Job #${job.id} has ended; its report is not stored yet. Try again in a moment; if it stays missing, the log store did not take it.\n`);
    }
    return serveObject(res, job.reportKey, `the report of job #${job.id}`);
  }

  /** Redirects to the store (a fresh presigned URL) or serves the bytes; `inline` always serves them. */
  async function serveObject(res: ServerResponse, key: string, what: string, inline = false): Promise<void> {
    const located = inline ? await logs.read(key) : await logs.locate(key);
    if (!located) return send(res, 404, `${what} is missing from the log store.\n`);
    if ("redirect" in located) {
      res.writeHead(302, { location: located.redirect, "cache-control": "no-store", "referrer-policy": "no-referrer" });
      res.end();
      return;
    }
    res.writeHead(200, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(located.bytes),
      "x-content-type-options": "nosniff",
      "content-disposition": "inline",
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
    });
    await pipeline(located.stream, res);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = URL.canParse(req.url ?? "/", "http://localhost") ? new URL(req.url ?? "/", "http://localhost") : undefined;
    if (!url) return send(res, 400, "Malformed URL\n");
    const path = url.pathname;
    const extra = deps.routes[path];
    if (extra) return extra(req, res);
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "Method not allowed\n");
    if (path === "/healthz") return send(res, 200, "ok\n");
    if (path === "/readyz") return readyz(deps, res);
    const reportMatch = /^\/reports\/([^/]+)$/.exec(path);
    if (reportMatch) return serveReport(res, reportMatch[1]!);
    const logMatch = /^\/logs\/([^/]+)(?:\/([^/]+))?$/.exec(path);
    if (logMatch) {
      const host = logMatch[2] === undefined ? undefined : decodeComponent(logMatch[2]);
      if (host === null) return send(res, 404, "No such log: the host name in the link is not valid (a broken %-escape).\n");
      return serveLog(res, logMatch[1]!, host, url.searchParams.has("inline"));
    }
    if (await jobPages.handle(req, res, path)) return;
    return send(res, 404, "Not found\n");
  }

  return createServer((req, res) => {
    route(req, res).catch((err: Error & { code?: string }) => {
      // A reader who went away mid-download is no failure of testum's.
      if (err.code === "ERR_STREAM_PREMATURE_CLOSE") return void res.destroy();
      log.error({ err, url: maskLinkTokens(req.url ?? "") }, "HTTP request failed");
      if (!res.headersSent) send(res, 500, "Internal error\n");
      else res.destroy();
    });
  });
}

export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
