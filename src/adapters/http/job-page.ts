import type { IncomingMessage, ServerResponse } from "node:http";
import { displayName } from "../../core/chat/chat.js";
import type { Sql } from "../../core/db.js";
import { formatDuration } from "../../core/duration.js";
import { LANGS, translate, type Lang } from "../../core/chat/i18n.js";
import { FINAL_STATUSES, findJobByLogToken, listTasks, type Job } from "../../core/jobs/jobs.js";
import { linkState } from "../../core/jobs/links.js";
import { sendGone } from "./gone.js";

/**
 * Job pages: `/jobs/ID/TOKEN` shows a job's status, per-host results and
 * live output while it runs, and each host's full log when it is done. The
 * token is the job's unguessable log token: the link is the key. It sits in
 * the path, never in the query (which proxies and browsers log); the old
 * `/jobs/ID?t=TOKEN` form answers 410 without looking the token up.
 */

const PAGE_KEYS = [
  "job.title",
  "job.status",
  "job.command",
  "job.target",
  "job.requestedBy",
  "job.host",
  "job.exit",
  "job.duration",
  "job.output",
  "job.fullLog",
  "job.report",
  "job.live",
  "job.notFound",
  "status.awaiting_approval",
  "status.queued",
  "status.running",
  "status.succeeded",
  "status.failed",
  "status.timed_out",
  "status.cancelled",
  "status.lost",
  "status.rejected",
  "status.expired",
  "status.skipped",
] as const;

async function findJob(sql: Sql, id: string, token: string): Promise<Job | undefined> {
  if (!/^[A-Za-z0-9_-]{20,64}$/.test(token) || !/^\d{1,15}$/.test(id)) return undefined;
  const job = await findJobByLogToken(sql, token);
  return job && job.id === Number(id) ? job : undefined;
}

const durations = (ms: number) => Object.fromEntries(LANGS.map((lang) => [lang, formatDuration(ms, lang)]));

/** The state the page shows, refreshed while the job runs. */
async function state(sql: Sql, job: Job) {
  const tasks = await listTasks(sql, job.id);
  return {
    id: job.id,
    status: job.status,
    active: !FINAL_STATUSES.includes(job.status),
    command: job.command,
    target: job.target,
    requestedBy: displayName(job.requestedByName, job.requestedBy),
    error: job.error,
    report: job.reportKey ? `/reports/${job.logToken}` : null,
    tasks: tasks.map((t) => ({
      host: t.hostName,
      status: t.status,
      exitCode: t.exitCode,
      error: t.error,
      // In both languages: the page picks its language in the browser.
      duration: t.startedAt ? durations((t.finishedAt ?? new Date()).getTime() - t.startedAt.getTime()) : null,
      tail: t.tail ?? "",
      log: t.logKey ? `/logs/${job.logToken}/${encodeURIComponent(t.hostName)}` : null,
      inline: t.logKey ? `/logs/${job.logToken}/${encodeURIComponent(t.hostName)}?inline=1` : null,
    })),
  };
}

const SCRIPT = `
const T = JSON.parse(document.getElementById("texts").textContent);
const lang = (localStorage.getItem("lang") || navigator.language).startsWith("ru") ? "ru" : "en";
const t = (k) => T[lang][k] || k;
const said = (status) => (T[lang]["status." + status] || status.replace("_", " "));
const theme = localStorage.getItem("theme"); if (theme && theme !== "auto") document.documentElement.setAttribute("data-theme", theme);
const el = (tag, attrs, ...kids) => { const n = document.createElement(tag); for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v); n.append(...kids); return n; };
const logs = new Map();
async function refresh() {
  const res = await fetch(location.pathname + "/state" + location.search);
  if (!res.ok) return;
  const s = await res.json();
  document.title = t("job.title").replace("{id}", s.id);
  document.getElementById("title").textContent = t("job.title").replace("{id}", s.id);
  const dl = el("dl", {}, el("dt", {}, t("job.status")), el("dd", { id: "status", class: s.status }, said(s.status)),
    el("dt", {}, t("job.command")), el("dd", {}, s.command), el("dt", {}, t("job.target")), el("dd", {}, s.target),
    el("dt", {}, t("job.requestedBy")), el("dd", {}, s.requestedBy));
  const hosts = el("div");
  for (const task of s.tasks) {
    const head = el("div", { class: "host " + task.status }, el("b", {}, task.host), " · " + said(task.status) + (task.exitCode !== null ? " · " + t("job.exit").toLowerCase() + " " + task.exitCode : "") + (task.duration ? " · " + task.duration[lang] : ""));
    const box = el("section", { class: "task" }, head);
    if (task.error) box.append(el("div", { class: "error" }, task.error));
    if (!s.active && task.log) {
      if (!logs.has(task.host)) logs.set(task.host, fetch(task.inline).then((r) => (r.ok ? r.text() : "")));
      const pre = el("pre", { class: "log", "data-host": task.host }, "…");
      logs.get(task.host).then((text) => { pre.textContent = text; });
      box.append(el("div", { class: "label" }, t("job.fullLog") + " ", el("a", { href: task.log }, "↗")), pre);
    } else if (task.tail) {
      box.append(el("div", { class: "label" }, s.active ? t("job.live") : t("job.output")), el("pre", { class: "tail" }, task.tail));
    }
    hosts.append(box);
  }
  const parts = [dl];
  if (s.report) parts.push(el("p", {}, el("a", { href: s.report }, t("job.report"))));
  document.getElementById("job").replaceChildren(...parts, hosts);
  if (s.active) setTimeout(refresh, 1000);
}
refresh();
`;

const STYLE = `
:root { color-scheme: light dark; --bg:#f6f7f9; --panel:#fff; --text:#1c2330; --muted:#667085; --line:#e3e6ea; --code:#0f1520; --codetext:#e6edf3; --ok:#1a7f37; --bad:#cf222e; }
:root[data-theme=dark] { --bg:#0f1217; --panel:#171b22; --text:#e6e9ee; --muted:#9aa4b2; --line:#2a303a; --code:#0b0e13; --codetext:#d8dee9; }
@media (prefers-color-scheme: dark) { :root:not([data-theme=light]) { --bg:#0f1217; --panel:#171b22; --text:#e6e9ee; --muted:#9aa4b2; --line:#2a303a; --code:#0b0e13; --codetext:#d8dee9; } }
body { margin:0; font: 15px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--text); }
main { max-width: 980px; margin: 0 auto; padding: 1rem; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:.2rem 1rem; background: var(--panel); border:1px solid var(--line); border-radius:8px; padding:.8rem; }
dt { color: var(--muted); } dd { margin:0; overflow-wrap:anywhere; white-space:pre-wrap; }
.task { background: var(--panel); border:1px solid var(--line); border-radius:8px; padding:.6rem .8rem; margin:.7rem 0; }
.succeeded { color: var(--ok); } .failed, .timed_out, .lost { color: var(--bad); }
.task .host b { color: var(--text); } .label { color: var(--muted); font-size:.85rem; margin-top:.4rem; } .error { color: var(--bad); white-space:pre-wrap; }
pre { background: var(--code); color: var(--codetext); padding:.6rem; border-radius:6px; overflow:auto; max-height:32rem; font: 13px/1.4 ui-monospace, monospace; }
a { color: #2f6fed; }
@media (max-width: 600px) { dl { grid-template-columns: 1fr; } main { padding:.6rem; } }
`;

function pageTexts(lang: Lang): Record<string, string> {
  return Object.fromEntries(PAGE_KEYS.map((k) => [k, translate(lang, k)]));
}

export function createJobPages(sql: Sql, linkTtlMs: number) {
  const notFound = (res: ServerResponse) => {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8", "referrer-policy": "no-referrer" });
    res.end(`${translate("en", "job.notFound")}\n${translate("ru", "job.notFound")}\n`);
  };
  return {
    /** `/jobs/ID/TOKEN` and `/jobs/ID/TOKEN/state` (JSON for the page). */
    async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
      const old = /^\/jobs\/(\d{1,15})(\/state)?$/.exec(path);
      if (old) {
        // The form that carried the key in the query: retired, whatever the token.
        const url = new URL(req.url ?? "/", "http://localhost");
        if (url.searchParams.has("t")) sendGone(res, Number(old[1]), { open: false, why: "old_form" }, linkTtlMs);
        else notFound(res);
        return true;
      }
      const match = /^\/jobs\/(\d+)\/([^/]+)(\/state)?$/.exec(path);
      if (!match) return false;
      const job = await findJob(sql, match[1]!, match[2]!);
      if (!job) {
        notFound(res);
        return true;
      }
      const link = linkState(job, linkTtlMs);
      if (!link.open) {
        sendGone(res, job.id, link, linkTtlMs);
        return true;
      }
      if (match[3]) {
        res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "referrer-policy": "no-referrer" });
        res.end(JSON.stringify(await state(sql, job)));
        return true;
      }
      const texts = JSON.stringify({ en: pageTexts("en"), ru: pageTexts("ru") }).replace(/</g, "\\u003c");
      res.writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        // The page's address carries its token: it must never leave in a Referer header.
        "referrer-policy": "no-referrer",
        "content-security-policy": "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'",
      });
      res.end(`<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>testum</title><style>${STYLE}</style></head>
<body><main><h1 id="title">testum</h1><div id="job"></div></main><script type="application/json" id="texts">${texts}</script><script>${SCRIPT}</script></body></html>`);
      return true;
    },
  };
}
