import { translate, type Lang } from "../../core/chat/i18n.js";

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
  "page.notSent",
  "page.message",
] as const;

function texts(lang: Lang): Record<string, string> {
  return Object.fromEntries(PAGE_KEYS.map((k) => [k, translate(lang, k)]));
}

const STYLE = `
:root { color-scheme: light dark; --bg:#f6f7f9; --panel:#fff; --text:#1c2330; --muted:#5f6b7a; --line:#d5dae1; --accent:#2458c6; --on-accent:#fff; --code:#0f1520; --codetext:#e6edf3;
  --ok:#1a7f37; --bad:#c0202b; --warn:#8a5c00; --private:#fff8e1; }
:root[data-theme=dark] { --bg:#0f1217; --panel:#171b22; --text:#e6e9ee; --muted:#9aa4b2; --line:#3a424e; --accent:#7eaaff; --on-accent:#0b1220; --code:#0b0e13; --codetext:#d8dee9; --ok:#4ac26b; --bad:#ff7b72; --warn:#d6a53a; --private:#2a2410; }
@media (prefers-color-scheme: dark) { :root:not([data-theme=light]) { --bg:#0f1217; --panel:#171b22; --text:#e6e9ee; --muted:#9aa4b2; --line:#3a424e; --accent:#7eaaff; --on-accent:#0b1220; --code:#0b0e13; --codetext:#d8dee9; --ok:#4ac26b; --bad:#ff7b72; --warn:#d6a53a; --private:#2a2410; } }
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
.msg.echo { background: transparent; border-style: dashed; border-left-style: solid; border-left-color: var(--muted); padding:.45rem .9rem; margin-bottom:.3rem; }
.msg.echo .command { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre-wrap; }
.meta { color: var(--muted); font-size:.78rem; margin-bottom:.2rem; }
.meta b { color: var(--text); font-weight:600; }
.thread { margin: .4rem 0 0 1.2rem; padding-left:.8rem; border-left:2px solid var(--line); }
.thread .msg { margin:.5rem 0; }
.heading { font-weight:600; margin:.1rem 0 .35rem; }
.text { margin:.3rem 0; white-space: pre-wrap; }
.context { color: var(--muted); font-size:.85rem; margin:.3rem 0; }
.note { color: var(--muted); font-size:.8rem; }
.icon { width:1.05em; height:1.05em; vertical-align:-.15em; margin-right:.35em; flex:none; }
dl { display:grid; grid-template-columns: max-content 1fr; gap:.15rem .8rem; margin:.4rem 0; }
dt { color: var(--muted); } dd { margin:0; white-space: pre-wrap; }
pre { background: var(--code); color: var(--codetext); padding:.6rem .7rem; border-radius:6px; overflow:auto; max-height: 24rem; white-space: pre-wrap; overflow-wrap: anywhere; margin:.4rem 0; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.links a { color: var(--accent); margin-right: 1rem; }
.actions { display:flex; gap:.5rem; margin-top:.5rem; flex-wrap:wrap; }
button { border:1px solid var(--line); background: var(--bg); color: var(--text); border-radius:6px; padding:.35rem .8rem; cursor:pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--on-accent); font-weight:600; }
button.danger { color: var(--bad); border-color: var(--bad); }
button:focus-visible, select:focus-visible, textarea:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
footer { position: fixed; bottom:0; left:0; right:0; background: var(--panel); border-top:1px solid var(--line); padding:.7rem 1rem; }
footer form { max-width: 980px; margin:0 auto; display:flex; gap:.5rem; }
footer textarea { flex:1; resize: vertical; min-height: 2.4rem; max-height: 12rem; }
#status { font-size:.8rem; color: var(--bad); }
#status.sent-failed { flex-basis:100%; order:9; }
dialog { border:1px solid var(--line); border-radius:10px; background: var(--panel); color: var(--text); width:min(560px, 94vw); }
dialog label { display:block; margin:.6rem 0 .2rem; }
dialog textarea, dialog input { width:100%; }
.empty { color: var(--muted); text-align:center; margin-top: 3rem; }
@media (max-width: 600px) {
  header { padding:.4rem .6rem; gap:.3rem .5rem; } header h1 small, header label > span { display:none; }
  main { padding:.6rem .6rem 9rem; } .thread { margin-left:.4rem; padding-left:.5rem; } dl { grid-template-columns: 1fr; }
  footer { padding:.5rem .6rem; } footer textarea { min-height: 3.8rem; font-size:14px; }
}
`;

const SCRIPT = `
const TEXT = JSON.parse(document.getElementById("texts").textContent);
const state = { as: localStorage.getItem("as") || IDENTITIES[0], lang: localStorage.getItem("lang") || (navigator.language.startsWith("ru") ? "ru" : "en"), theme: localStorage.getItem("theme") || "auto", messages: new Map(), source: null,
  history: JSON.parse(localStorage.getItem("history") || "[]"), recall: -1 };
const $ = (sel) => document.querySelector(sel);
const t = (key) => TEXT[state.lang][key] || key;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (v !== undefined && v !== null) node.setAttribute(k, v); }
  for (const c of children) node.append(c);
  return node;
}

// Status emoji drawn as icons, so a machine without a colour-emoji font shows them too.
const ICONS = {
  "✅": ["ok", "M4.6 8.4l2.3 2.3 4.5-4.9"], "❌": ["bad", "M5.3 5.3l5.4 5.4M10.7 5.3l-5.4 5.4"], "⚠️": ["warn", "M8 4.4v4.4M8 11.2v.2"],
  "🚫": ["bad", "M4.8 11.2l6.4-6.4"], "🛑": ["bad", "M5.6 5.6h4.8v4.8H5.6z"], "🔐": ["accent", "M5.6 7.6h4.8v3.6H5.6zM6.4 7.6V6.2a1.6 1.6 0 0 1 3.2 0v1.4"],
  "🔒": ["accent", "M5.6 7.6h4.8v3.6H5.6zM6.4 7.6V6.2a1.6 1.6 0 0 1 3.2 0v1.4"], "⏳": ["accent", "M8 4.6V8l2.4 1.6"], "⌛": ["warn", "M8 4.6V8l2.4 1.6"],
  "⏱️": ["warn", "M8 4.6V8l2.4 1.6"], "🕒": ["accent", "M8 4.6V8l2.4 1.6"], "▶️": ["accent", "M6.6 5.2v5.6l4.4-2.8z"], "⏸️": ["muted", "M6.4 5.2v5.6M9.6 5.2v5.6"],
  "⏭️": ["muted", "M5.4 5.2l3.4 2.8-3.4 2.8M10.6 5.2v5.6"], "🔔": ["accent", "M5.4 10.4h5.2M6 10.4V7.6a2 2 0 0 1 4 0v2.8M7.4 11.8h1.2"], "🔕": ["muted", "M5.4 10.4h5.2M6 10.4V7.6a2 2 0 0 1 4 0v2.8M4.8 4.8l6.4 6.4"],
  "ℹ️": ["accent", "M8 7.4v3.6M8 5.2v.2"], "🔑": ["accent", "M4.8 9.6a1.6 1.6 0 1 0 3.2 0a1.6 1.6 0 1 0-3.2 0M8 9.6h3.4M10.4 9.6v1.4"],
  "📨": ["accent", "M4.6 5.6h6.8v4.8H4.6zM4.6 5.6L8 8.4l3.4-2.8"], "📘": ["accent", "M5.4 4.8h4.2a.8.8 0 0 1 .8.8v5.6H6.2a.8.8 0 0 1-.8-.8zM5.4 10.4a.8.8 0 0 1 .8-.8h4.2"],
};
const LEADING = /^(\\p{Extended_Pictographic}\\uFE0F?)\\s*/u;

function icon(emoji) {
  const [tone, path] = ICONS[emoji];
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 16 16"); svg.setAttribute("class", "icon"); svg.setAttribute("role", "img"); svg.setAttribute("aria-label", emoji);
  const circle = document.createElementNS(SVG, "circle");
  circle.setAttribute("cx", "8"); circle.setAttribute("cy", "8"); circle.setAttribute("r", "7.5"); circle.setAttribute("fill", "var(--" + tone + ")");
  const line = document.createElementNS(SVG, "path");
  line.setAttribute("d", path); line.setAttribute("fill", "none"); line.setAttribute("stroke", "var(--panel)"); line.setAttribute("stroke-width", "1.7"); line.setAttribute("stroke-linecap", "round"); line.setAttribute("stroke-linejoin", "round");
  svg.append(circle, line);
  return svg;
}

/** Text with its leading status emoji drawn as an icon. */
function withIcon(tag, cls, text) {
  const node = el(tag, { class: cls });
  const m = LEADING.exec(text);
  if (m && ICONS[m[1]]) { node.append(icon(m[1]), text.slice(m[0].length)); } else node.append(text);
  return node;
}

function renderBlock(block, message) {
  switch (block.type) {
    case "heading": return withIcon("div", "heading", block.text);
    case "text": return withIcon("div", "text", block.text);
    case "context": return withIcon("div", "context", block.text);
    case "fields": { const dl = el("dl"); for (const f of block.fields) { dl.append(el("dt", {}, f.label), el("dd", {}, f.value)); } return dl; }
    case "code": {
      const wrap = el("div");
      if (block.omitted) wrap.append(el("div", { class: "note" }, t("page.earlier").replace("{count}", String(block.omitted))));
      wrap.append(el("pre", { tabindex: "0" }, block.lines.join("\\n")));
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

function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : d.toLocaleTimeString(state.lang === "ru" ? "ru-RU" : "en-GB", { hour: "2-digit", minute: "2-digit" });
}

function renderMessage(message) {
  const echo = message.author !== null && message.author !== undefined;
  const node = el("div", { class: "msg " + (echo ? "echo" : (message.view.tone || "")) + (message.private && !echo ? " private" : ""), id: "m" + message.id, "data-version": message.version });
  const who = echo ? message.author.replace(/^local:/, "") : "testum";
  const meta = el("div", { class: "meta" }, el("b", {}, who), " · ", el("time", { datetime: message.at }, clock(message.at)));
  if (message.private) meta.append(" · " + t("page.onlyYou"));
  node.append(meta);
  if (echo) { node.append(el("div", { class: "command" }, message.view.text)); return node; }
  for (const block of message.view.blocks) node.append(renderBlock(block, message));
  return node;
}

/** True when the reader is at (or within a line of) the bottom of the page. */
function atBottom() {
  return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 40;
}

/** Where each output box of a message is scrolled: null for a box at its newest line. */
function outputScroll(node) {
  if (!node) return [];
  return [...node.querySelectorAll("pre")].map((pre) => (pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4 ? null : pre.scrollTop));
}

/**
 * Keeps each output box where its reader left it: at the newest line unless they
 * scrolled it up, in which case it stays where they were.
 */
function restoreOutputScroll(node, saved) {
  node.querySelectorAll("pre").forEach((pre, i) => {
    const at = saved[i];
    pre.scrollTop = at === null || at === undefined ? pre.scrollHeight : at;
  });
}

/** Puts node among parent's children in message order. */
function placeInOrder(parent, node, id, selector) {
  const later = [...parent.querySelectorAll(":scope > " + selector)].find((n) => Number(n.dataset.id) > id);
  if (!later) { parent.append(node); return; }
  parent.insertBefore(node, later);
}

/** Shows one message: replaces its old version in place, or adds it where it belongs. */
function show(message) {
  const main = $("main");
  const previous = document.getElementById("m" + message.id);
  const node = renderMessage(message);
  if (previous) { const saved = outputScroll(previous); previous.replaceWith(node); restoreOutputScroll(node, saved); return; }
  $(".empty")?.remove();
  if (message.thread === null) {
    const group = el("section", { class: "group", "data-id": String(message.id), id: "g" + message.id }, node, el("div", { class: "thread", id: "t" + message.id, hidden: "" }));
    placeInOrder(main, group, message.id, "section.group");
  } else {
    const thread = document.getElementById("t" + message.thread);
    if (!thread) return;
    thread.hidden = false;
    node.dataset.id = String(message.id);
    placeInOrder(thread, node, message.id, ".msg");
  }
  restoreOutputScroll(node, []);
}

function renderAll() {
  const main = $("main");
  const boxes = new Map([...main.querySelectorAll(".msg")].map((n) => [n.id, outputScroll(n)]));
  main.replaceChildren();
  const all = [...state.messages.values()].sort((a, b) => a.id - b.id);
  if (!all.some((m) => m.thread === null)) main.append(el("div", { class: "empty" }, t("page.empty")));
  for (const message of all) {
    show(message);
    const node = document.getElementById("m" + message.id);
    if (node && boxes.has(node.id)) restoreOutputScroll(node, boxes.get(node.id));
  }
}

function receive(message) {
  const old = state.messages.get(message.id);
  if (old && old.version > message.version) return;
  state.messages.set(message.id, message);
  const follow = atBottom();
  show(message);
  if (follow) window.scrollTo(0, document.documentElement.scrollHeight);
}

function say(text) { const s = $("#status"); s.textContent = text; }

/**
 * Subscribes first, then reads the messages: anything posted while the page
 * loads arrives on the stream or is in the read, never in between. Every
 * reconnect reads again, so nothing sent while the stream was down is missed.
 */
function load() {
  if (state.source) state.source.close();
  state.messages = new Map();
  const source = new EventSource("/playground/api/events?as=" + encodeURIComponent(state.as));
  state.source = source;
  let loaded = false;
  source.onmessage = (e) => {
    const message = JSON.parse(e.data);
    if (loaded) return receive(message);
    const old = state.messages.get(message.id);
    if (!old || old.version < message.version) state.messages.set(message.id, message);
  };
  source.onerror = () => say(t("page.disconnected"));
  source.onopen = async () => {
    say("");
    let body;
    try { body = await (await fetch("/playground/api/messages?as=" + encodeURIComponent(state.as))).json(); }
    catch {
      say(t("page.disconnected"));
      if (!loaded) setTimeout(() => { if (source === state.source) load(); }, 2000);
      return;
    }
    if (source !== state.source) return;
    if (!loaded) {
      loaded = true;
      // What the stream brought meanwhile is kept where it is newer than the read.
      const streamed = state.messages;
      state.messages = new Map(body.messages.map((m) => [m.id, m]));
      for (const m of streamed.values()) {
        const read = state.messages.get(m.id);
        if (!read || read.version < m.version) state.messages.set(m.id, m);
      }
      renderAll();
      window.scrollTo(0, document.documentElement.scrollHeight);
      return;
    }
    for (const m of body.messages) {
      const old = state.messages.get(m.id);
      if (!old || old.version < m.version) receive(m);
    }
  };
}

/** Sends to testum; false when it could not be reached or refused the request. */
async function post(kind, body) {
  let answer;
  try {
    const res = await fetch("/playground/api/" + kind, { method: "POST", headers: { "content-type": "application/json", "x-testum-playground": "1" }, body: JSON.stringify({ as: state.as, lang: state.lang, ...body }) });
    answer = await res.json().catch(() => ({}));
    if (!res.ok) { say(answer.error || t("page.notSent")); return false; }
  } catch {
    say(t("page.notSent"));
    return false;
  }
  if (answer.form) openForm(answer.form);
  return true;
}

function openForm(form) {
  const dialog = $("dialog");
  const fields = form.fields.map((f) => {
    const id = "field-" + f.id;
    const input = f.multiline ? el("textarea", { id, name: f.id, rows: "8", placeholder: f.placeholder || "" }) : el("input", { id, name: f.id, placeholder: f.placeholder || "", type: /password|passphrase/.test(f.id) ? "password" : "text" });
    return el("div", {}, el("label", { for: id }, f.label), input);
  });
  const submit = el("button", { type: "submit", class: "primary" }, form.submitLabel || t("page.submit"));
  const cancel = el("button", { type: "button" }, t("page.cancel"));
  const formNode = el("form", { method: "dialog" }, el("h3", {}, form.title), ...fields, el("div", { class: "actions" }, submit, cancel));
  cancel.addEventListener("click", () => dialog.close());
  formNode.addEventListener("submit", async (e) => {
    e.preventDefault();
    const values = Object.fromEntries([...formNode.querySelectorAll("input,textarea")].map((i) => [i.name, i.value]));
    // The form stays open, with what was typed, until testum has it.
    if (await post("form", { action: form.action, values })) dialog.close();
  });
  dialog.replaceChildren(formNode);
  dialog.showModal();
}

function applyTexts() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.getAttribute("data-t"));
  for (const node of document.querySelectorAll("[data-t-label]")) node.setAttribute("aria-label", t(node.getAttribute("data-t-label")));
  $("#input").placeholder = t("page.placeholder");
  document.title = t("page.title");
}

function applyTheme() {
  if (state.theme === "auto") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.setAttribute("data-theme", state.theme);
}

async function send() {
  const input = $("#input");
  const text = input.value.trim();
  if (!text) return;
  state.history = [...state.history.filter((h) => h !== text), text].slice(-50);
  localStorage.setItem("history", JSON.stringify(state.history));
  state.recall = -1;
  input.value = "";
  window.scrollTo(0, document.documentElement.scrollHeight);
  if (await post("command", { text })) { say(""); return; }
  // Not sent: the text comes back unless something new was typed meanwhile.
  if (!input.value) input.value = text;
}

function recall(step) {
  const input = $("#input");
  if (state.history.length === 0) return false;
  const next = state.recall === -1 ? (step < 0 ? state.history.length - 1 : -1) : state.recall + step;
  if (next < 0 || next >= state.history.length) { state.recall = -1; input.value = ""; return true; }
  state.recall = next;
  input.value = state.history[next];
  return true;
}

window.addEventListener("DOMContentLoaded", () => {
  $("#as").value = state.as; $("#lang").value = state.lang; $("#theme").value = state.theme;
  applyTexts(); applyTheme();
  $("#as").addEventListener("change", (e) => { state.as = e.target.value; localStorage.setItem("as", state.as); load(); });
  $("#lang").addEventListener("change", (e) => { state.lang = e.target.value; localStorage.setItem("lang", state.lang); applyTexts(); const y = window.scrollY; renderAll(); window.scrollTo(0, y); });
  $("#theme").addEventListener("change", (e) => { state.theme = e.target.value; localStorage.setItem("theme", state.theme); applyTheme(); });
  const input = $("#input");
  $("#composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); return; }
    // Up and Down walk through what was sent before, while the box holds one line.
    if ((e.key === "ArrowUp" || e.key === "ArrowDown") && !input.value.includes("\\n") && (input.value === "" || state.recall !== -1)) {
      if (recall(e.key === "ArrowUp" ? -1 : 1)) e.preventDefault();
    }
  });
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
  <label><span data-t="page.actingAs"></span> <select id="as" data-t-label="page.actingAs">${options}</select></label>
  <label><span data-t="page.language"></span> <select id="lang" data-t-label="page.language"><option value="en">English</option><option value="ru">Русский</option></select></label>
  <label><span data-t="page.theme"></span> <select id="theme" data-t-label="page.theme"><option value="auto" data-t="page.themeAuto"></option><option value="light" data-t="page.themeLight"></option><option value="dark" data-t="page.themeDark"></option></select></label>
  <span id="status" role="status"></span>
</header>
<main aria-live="polite"></main>
<footer><form id="composer"><textarea id="input" rows="1" data-t-label="page.message"></textarea><button class="primary" type="submit" data-t="page.send"></button></form></footer>
<dialog></dialog>
<script type="application/json" id="texts">${payload}</script>
<script>const IDENTITIES = ${JSON.stringify(identities)};${SCRIPT}</script>
</body></html>`;
}
