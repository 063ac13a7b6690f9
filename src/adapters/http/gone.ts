import type { ServerResponse } from "node:http";
import { formatDuration } from "../../core/duration.js";
import { translate, type Lang } from "../../core/chat/i18n.js";
import type { LinkState } from "../../core/jobs/links.js";
import { formatTime as time } from "../../core/chat/time.js";

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A lifetime in days, hours or minutes, as the page says it. */
function lifetime(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return formatDuration(ms);
}

/**
 * 410 Gone, as a small page in English and Russian: the link expired, was
 * revoked, or has a form testum no longer takes. Nothing of the job but its
 * number is shown.
 */
export function sendGone(res: ServerResponse, jobId: number, state: Exclude<LinkState, { open: true }> | { open: false; why: "old_form" }, ttlMs: number): void {
  const say = (lang: Lang) => {
    switch (state.why) {
      case "expired":
        return translate(lang, "link.gone.expired", { id: jobId, at: time(state.at), ttl: lifetime(ttlMs) });
      case "revoked":
        return translate(lang, "link.gone.revoked", { id: jobId, at: time(state.at), by: state.by });
      case "old_form":
        return translate(lang, "link.gone.old_form", { id: jobId });
    }
  };
  const section = (lang: Lang) => `<section lang="${lang}"><h1>${escapeHtml(translate(lang, "link.gone.title"))}</h1><p>${escapeHtml(say(lang))}</p></section>`;
  res.writeHead(410, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  });
  res.end(`<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>testum: ${escapeHtml(translate("en", "link.gone.title"))}</title>
<style>:root{color-scheme:light dark}body{margin:0;font:15px/1.5 system-ui,sans-serif}main{max-width:720px;margin:2rem auto;padding:0 1rem}h1{font-size:1.3rem}section+section{border-top:1px solid #8884;margin-top:1.5rem}</style></head>
<body><main>${section("en")}${section("ru")}</main></body></html>
`);
}
