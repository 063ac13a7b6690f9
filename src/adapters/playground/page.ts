import { translate, type Lang } from "../../core/i18n.js";

/** The page's own words, from the message catalogue, in both languages. */
const PAGE_KEYS = [
  "page.title",
  "page.subtitle",
  "page.actingAs",
  "page.language",
  "page.theme",
  "page.themeAuto",
  "page.themeLight",
  "page.themeDark",
  "page.placeholder",
  "page.send",
  "page.onlyYou",
  "page.empty",
  "page.cancel",
  "page.submit",
  "page.disconnected",
  "page.earlier",
] as const;

function texts(lang: Lang): Record<string, string> {
  return Object.fromEntries(PAGE_KEYS.map((k) => [k, translate(lang, k)]));
}

const STYLE = `
:root { color-scheme: light dark; --bg:#f6f7f9; --panel:#fff; --text:#1c2330; --muted:#667085; --line:#e3e6ea; --accent:#2f6fed; --code:#0f1520; --codetext:#e6edf3;
  --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --private:#fff8e1; }
:root[data-theme=dark] { --bg:#0f1217; --panel:#171b22; --text:#e6e9ee; --muted:#9aa4b2; --line:#2a303a; --accent:#6ea0ff; --code:#0b0e13; --codetext:#d8dee9; --private:#2a2410; }
@media (prefers-color-scheme: dark) { :root:not([data-theme=light]) { --bg:#0f1217; --panel:#171b22; --text:#e6e9ee; --muted:#9aa4b2; --line:#2a303a; --accent:#6ea0ff; --code:#0b0e13; --codetext:#d8dee9; --private:#2a2410; } }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
header { position: sticky; top:0; z-index:2; display:flex; flex-wrap:wrap; gap:.6rem 1rem; align-items:center; padding:.7rem 1rem; background: var(--panel); border-bottom:1px solid var(--line); }
header h1 { font-size:1.05rem; margin:0; margin-right:auto; }
header h1 small { font-weight:400; color: var(--muted); margin-left:.4rem; }
label { color: var(--muted); font-size:.85rem; display:flex; gap:.35rem; align-items:center; }
select, input, textarea, button { font: inherit; color: inherit; }
select, input, textarea { background: var(--bg); border:1px solid var(--line); border-radius:6px; padding:.35rem .5rem; }
main { max-width: 980px; margin: 0 auto; padding: 1rem 1rem 7rem; }
.msg { background: var(--panel); border:1px solid var(--line); border-left:4px solid var(--line); border-radius:8px; padding:.7rem .9rem; margin:.7rem 0; overflow-wrap:anywhere; }
.msg.success { border-left-color: var(--ok); } .msg.failure { border-left-color: var(--bad); } .msg.warning { border-left-color: var(--warn); } .msg.progress { border-left-color: var(--accent); }
.msg.private { background: var(--private); }
.thread { margin: .4rem 0 0 1.2rem; padding-left:.8rem; border-left:2px solid var(--line); }
.thread .msg { margin:.5rem 0; }
.heading { font-weight:600; margin:.1rem 0 .35rem; }
.text { margin:.3rem 0; white-space: pre-wrap; }
.context { color: var(--muted); font-size:.85rem; margin:.3rem 0; }
.note { color: var(--muted); font-size:.8rem; }
dl { display:grid; grid-template-columns: max-content 1fr; gap:.15rem .8rem; margin:.4rem 0; }
dt { color: var(--muted); } dd { margin:0; white-space: pre-wrap; }
pre { background: var(--code); color: var(--codetext); padding:.6rem .7rem; border-radius:6px; overflow:auto; max-height: 24rem; margin:.4rem 0; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.links a { color: var(--accent); margin-right: 1rem; }
.actions { display:flex; gap:.5rem; margin-top:.5rem; flex-wrap:wrap; }
button { border:1px solid var(--line); background: var(--bg); border-radius:6px; padding:.35rem .8rem; cursor:pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color:#fff; }
button.danger { color: var(--bad); border-color: var(--bad); }
footer { position: fixed; bottom:0; left:0; right:0; background: var(--panel); border-top:1px solid var(--line); padding:.7rem 1rem; }
footer form { max-width: 980px; margin:0 auto; display:flex; gap:.5rem; }
footer textarea { flex:1; resize: vertical; min-height: 2.4rem; max-height: 12rem; }
#status { font-size:.8rem; color: var(--bad); }
dialog { border:1px solid var(--line); border-radius:10px; background: var(--panel); color: var(--text); width:min(560px, 94vw); }
dialog label { display:block; margin:.6rem 0 .2rem; }
dialog textarea, dialog input { width:100%; }
.empty { color: var(--muted); text-align:center; margin-top: 3rem; }
@media (max-width: 600px) { header { padding:.5rem .6rem; } main { padding:.6rem .6rem 8rem; } .thread { margin-left:.4rem; padding-left:.5rem; } dl { grid-template-columns: 1fr; } }
`;

const SCRIPT = `
const TEXT = JSON.parse(document.getElementById("texts").textContent);
const state = { as: localStorage.getItem("as") || IDENTITIES[0], lang: localStorage.getItem("lang") || (navigator.language.startsWith("ru") ? "ru" : "en"), theme: localStorage.getItem("theme") || "auto", messages: new Map(), source: null };
const $ = (sel) => document.querySelector(sel);
const t = (key) => TEXT[state.lang][key] || key;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (v !== undefined && v !== null) node.setAttribute(k, v); }
  for (const c of children) node.append(c);
  return node;
}

function renderBlock(block, message) {
  switch (block.type) {
    case "heading": return el("div", { class: "heading" }, block.text);
    case "text": return el("div", { class: "text" }, block.text);
    case "context": return el("div", { class: "context" }, block.text);
    case "fields": { const dl = el("dl"); for (const f of block.fields) { dl.append(el("dt", {}, f.label), el("dd", {}, f.value)); } return dl; }
    case "code": {
      const wrap = el("div");
      if (block.omitted) wrap.append(el("div", { class: "note" }, t("page.earlier").replace("{count}", String(block.omitted))));
      wrap.append(el("pre", {}, block.lines.join("\\n")));
      return wrap;
    }
    case "links": { const p = el("div", { class: "links" }); for (const l of block.links) { if (/^https?:/.test(l.url)) p.append(el("a", { href: l.url, target: "_blank", rel: "noopener" }, l.label)); } return p; }
    case "actions": {
      const row = el("div", { class: "actions" });
      for (const b of block.buttons) {
        const button = el("button", { type: "button", class: b.style || "", "data-action": b.action }, b.label);
        button.addEventListener("click", () => post("action", { message: message.id, action: b.action }));
        row.append(button);
      }
      return row;
    }
  }
  return el("span");
}

function renderMessage(message) {
  const node = el("div", { class: "msg " + (message.view.tone || "") + (message.private ? " private" : ""), id: "m" + message.id, "data-version": message.version });
  if (message.private) node.append(el("div", { class: "note" }, t("page.onlyYou")));
  for (const block of message.view.blocks) node.append(renderBlock(block, message));
  return node;
}

function render() {
  const main = $("main");
  main.replaceChildren();
  const all = [...state.messages.values()].sort((a, b) => a.id - b.id);
  const top = all.filter((m) => m.thread === null);
  if (top.length === 0) main.append(el("div", { class: "empty" }, t("page.empty")));
  for (const message of top) {
    main.append(renderMessage(message));
    const replies = all.filter((m) => m.thread === message.id);
    if (replies.length) { const thread = el("div", { class: "thread" }); for (const r of replies) thread.append(renderMessage(r)); main.append(thread); }
  }
  window.scrollTo(0, document.body.scrollHeight);
}

async function load() {
  if (state.source) state.source.close();
  const res = await fetch("/playground/api/messages?as=" + encodeURIComponent(state.as));
  const body = await res.json();
  state.messages = new Map(body.messages.map((m) => [m.id, m]));
  render();
  state.source = new EventSource("/playground/api/events?as=" + encodeURIComponent(state.as));
  state.source.onmessage = (e) => { const m = JSON.parse(e.data); const old = state.messages.get(m.id); if (!old || old.version <= m.version) { state.messages.set(m.id, m); render(); } };
  state.source.onerror = () => { $("#status").textContent = t("page.disconnected"); };
  state.source.onopen = () => { $("#status").textContent = ""; };
}

async function post(kind, body) {
  const res = await fetch("/playground/api/" + kind, { method: "POST", headers: { "content-type": "application/json", "x-testum-playground": "1" }, body: JSON.stringify({ as: state.as, lang: state.lang, ...body }) });
  const answer = await res.json();
  if (answer.form) openForm(answer.form);
}

function openForm(form) {
  const dialog = $("dialog");
  const fields = form.fields.map((f) => {
    const input = f.multiline ? el("textarea", { name: f.id, rows: "8", placeholder: f.placeholder || "" }) : el("input", { name: f.id, placeholder: f.placeholder || "", type: /password|passphrase/.test(f.id) ? "password" : "text" });
    return el("div", {}, el("label", { for: f.id }, f.label), input);
  });
  const submit = el("button", { type: "submit", class: "primary" }, form.submitLabel || t("page.submit"));
  const cancel = el("button", { type: "button" }, t("page.cancel"));
  const formNode = el("form", { method: "dialog" }, el("h3", {}, form.title), ...fields, el("div", { class: "actions" }, submit, cancel));
  cancel.addEventListener("click", () => dialog.close());
  formNode.addEventListener("submit", (e) => {
    e.preventDefault();
    const values = Object.fromEntries([...formNode.querySelectorAll("input,textarea")].map((i) => [i.name, i.value]));
    dialog.close();
    post("form", { action: form.action, values });
  });
  dialog.replaceChildren(formNode);
  dialog.showModal();
}

function applyTexts() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.getAttribute("data-t"));
  $("#input").placeholder = t("page.placeholder");
  document.title = t("page.title");
}

function applyTheme() {
  if (state.theme === "auto") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.setAttribute("data-theme", state.theme);
}

window.addEventListener("DOMContentLoaded", () => {
  $("#as").value = state.as; $("#lang").value = state.lang; $("#theme").value = state.theme;
  applyTexts(); applyTheme();
  $("#as").addEventListener("change", (e) => { state.as = e.target.value; localStorage.setItem("as", state.as); load(); });
  $("#lang").addEventListener("change", (e) => { state.lang = e.target.value; localStorage.setItem("lang", state.lang); applyTexts(); render(); });
  $("#theme").addEventListener("change", (e) => { state.theme = e.target.value; localStorage.setItem("theme", state.theme); applyTheme(); });
  const input = $("#input");
  $("#composer").addEventListener("submit", (e) => { e.preventDefault(); const text = input.value.trim(); if (!text) return; input.value = ""; post("command", { text }); });
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("#composer").requestSubmit(); } });
  load();
});
`;

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** The playground: one channel, live threads, buttons and forms, as a chat client shows them. */
export function renderPage(identities: readonly string[]): string {
  const options = identities.map((id) => `<option value="${escape(id)}">${escape(id)}</option>`).join("");
  const payload = JSON.stringify({ en: texts("en"), ru: texts("ru") }).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>testum</title><style>${STYLE}</style></head>
<body>
<header>
  <h1>testum <small data-t="page.subtitle"></small></h1>
  <label><span data-t="page.actingAs"></span> <select id="as">${options}</select></label>
  <label><span data-t="page.language"></span> <select id="lang"><option value="en">English</option><option value="ru">Русский</option></select></label>
  <label><span data-t="page.theme"></span> <select id="theme"><option value="auto" data-t="page.themeAuto"></option><option value="light" data-t="page.themeLight"></option><option value="dark" data-t="page.themeDark"></option></select></label>
  <span id="status" role="status"></span>
</header>
<main aria-live="polite"></main>
<footer><form id="composer"><textarea id="input" rows="1" aria-label="message"></textarea><button class="primary" type="submit" data-t="page.send"></button></form></footer>
<dialog></dialog>
<script type="application/json" id="texts">${payload}</script>
<script>const IDENTITIES = ${JSON.stringify(identities)};${SCRIPT}</script>
</body></html>`;
}
