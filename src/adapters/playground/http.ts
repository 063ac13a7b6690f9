import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { App as CoreApp } from "../../core/app.js";
import type { Actor, Inbound, Reply, View } from "../../core/chat/chat.js";
import type { Sql } from "../../core/db.js";
import type { Logger } from "../../core/ports.js";
import { errorView } from "../../core/chat/replies.js";
import { readBody } from "../http/body.js";
import { bounded, createPlaygroundChat, MAX_CODE_CHARS } from "./chat.js";
import { guardRequest, GUARD_HEADERS, type PlaygroundAccess } from "./guard.js";
import { renderPage } from "./page.js";
import { IDENTITIES } from "./people.js";
import { authorOf, CHANGES, CONVERSATION, createPlaygroundStore, messageRef, type PlaygroundMessage } from "./store.js";

export interface PlaygroundDeps {
  readonly sql: Sql;
  readonly core: CoreApp;
  readonly log: Logger;
  /** Which Host names and which key let a request in (see guard.ts). */
  readonly access: PlaygroundAccess;
}

const MAX_BODY = 64 * 1024;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...GUARD_HEADERS, "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const body = await readBody(req, MAX_BODY);
  if (!body) return undefined;
  try {
    const value = JSON.parse(body.toString("utf8")) as unknown;
    return value && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What the page shows of a message. */
function wire(message: PlaygroundMessage) {
  return {
    id: message.id,
    thread: message.thread,
    private: message.privateTo !== null,
    author: authorOf(message),
    view: message.view,
    version: message.version,
    at: message.createdAt.toISOString(),
  };
}

/**
 * The playground's web side: the page, its API and a stream of changes.
 * Every request passes guard.ts first (this machine's Host, the start key's
 * cookie, the page's own Origin); requests that act must also carry a
 * custom header, which a page of another site cannot send without a CORS
 * preflight testum never grants.
 */
export function createPlayground(deps: PlaygroundDeps) {
  const { sql, core, log } = deps;
  const store = createPlaygroundStore(sql);
  const chat = createPlaygroundChat(store);
  const streams = new Set<{ viewer: string; res: ServerResponse }>();
  let listening: Promise<{ unlisten(): Promise<void> }> | undefined;

  function listen() {
    listening ??= sql.listen(CHANGES, (payload) => {
      void store.get(Number(payload)).then((message) => {
        if (!message) return;
        for (const stream of streams) {
          if (message.privateTo === null || message.privateTo === stream.viewer) stream.res.write(`data: ${JSON.stringify(wire(message))}\n\n`);
        }
      });
    }) as unknown as Promise<{ unlisten(): Promise<void> }>;
    return listening;
  }

  function actorOf(body: Record<string, unknown>): Actor | undefined {
    const id = String(body.as ?? "");
    if (!(IDENTITIES as readonly string[]).includes(id)) return undefined;
    const lang = body.lang === "ru" ? "ru" : "en";
    return { id, name: id.slice("local:".length), groups: [], locale: lang };
  }

  async function deliver(reply: Reply, actor: Actor, clicked?: number): Promise<unknown> {
    switch (reply.kind) {
      case "private":
        await store.post(bounded(reply.view), { privateTo: actor.id });
        return { ok: true };
      case "update":
        if (clicked !== undefined) await store.edit(clicked, reply.view);
        return { ok: true };
      case "form":
        return { ok: true, form: reply.form };
      case "none":
        return { ok: true };
    }
  }

  /**
   * The person's own command, shown to them above the answer, as a chat client
   * shows what one sent. Only text PostgreSQL can store: no NUL, no lone surrogates.
   */
  async function echo(text: string, actor: Actor): Promise<void> {
    const shown = Buffer.from(`/testum ${text}`.trim(), "utf8")
      .toString("utf8")
      .replace(/\u0000/g, "")
      .slice(0, MAX_CODE_CHARS);
    await store.post({ text: shown, blocks: [] }, { privateTo: actor.id, author: actor.id });
  }

  async function act(req: IncomingMessage, res: ServerResponse, kind: "command" | "action" | "form"): Promise<void> {
    if (req.method !== "POST") return json(res, 405, { error: "use POST" });
    if (req.headers["x-testum-playground"] !== "1") return json(res, 401, { error: "requests must come from the playground page" });
    const body = await readJson(req);
    if (!body) return json(res, 400, { error: "expected a JSON body" });
    const actor = actorOf(body);
    if (!actor) return json(res, 400, { error: `"as" must be one of ${IDENTITIES.join(", ")}` });
    const respond = async (view: View) => void (await store.post(view, { privateTo: actor.id }));
    const base = { actor, conversation: CONVERSATION, eventId: `local-${randomUUID()}`, respond };
    let event: Inbound;
    let clicked: number | undefined;
    if (kind === "command") {
      const text = String(body.text ?? "")
        .trim()
        .replace(/^\/testum\b\s*/, "");
      event = { ...base, kind: "command", input: { type: "text", text } };
    } else if (kind === "action") {
      clicked = Number(body.message);
      if (!Number.isSafeInteger(clicked)) return json(res, 400, { error: "message must be a message id" });
      event = { ...base, kind: "action", message: messageRef(clicked), action: String(body.action ?? "") };
    } else {
      const given = body.values && typeof body.values === "object" ? (body.values as Record<string, unknown>) : {};
      const values = Object.fromEntries(Object.entries(given).filter((e): e is [string, string] => typeof e[1] === "string"));
      event = { ...base, kind: "form", action: String(body.action ?? ""), values };
    }
    try {
      if (event.kind === "command" && event.input.type === "text") await echo(event.input.text, actor);
      json(res, 200, await deliver(await core.handle(event), actor, clicked));
    } catch (err) {
      await store.post(errorView(err, log), { privateTo: actor.id });
      json(res, 200, { ok: false });
    }
  }

  async function events(req: IncomingMessage, res: ServerResponse, viewer: string): Promise<void> {
    await listen();
    res.writeHead(200, { ...GUARD_HEADERS, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive" });
    res.write(": connected\n\n");
    const stream = { viewer, res };
    streams.add(stream);
    // Keeps proxies from closing an idle stream.
    const ping = setInterval(() => res.write(": ping\n\n"), 15_000);
    req.on("close", () => {
      clearInterval(ping);
      streams.delete(stream);
    });
  }

  async function listener(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!guardRequest(req, res, deps.access).ok) return;
    const url = new URL(req.url ?? "/", "http://localhost");
    const viewer = url.searchParams.get("as") ?? "local:alice";
    switch (url.pathname) {
      case "/":
        res.writeHead(200, {
          ...GUARD_HEADERS,
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-store",
          "content-security-policy": "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
        });
        res.end(renderPage([...IDENTITIES]));
        return;
      case "/playground/api/messages":
        if (!(IDENTITIES as readonly string[]).includes(viewer)) return json(res, 400, { error: "unknown identity" });
        return json(res, 200, { messages: (await store.recent(viewer)).map(wire) });
      case "/playground/api/events":
        if (!(IDENTITIES as readonly string[]).includes(viewer)) return json(res, 400, { error: "unknown identity" });
        return events(req, res, viewer);
      case "/playground/api/command":
        return act(req, res, "command");
      case "/playground/api/action":
        return act(req, res, "action");
      case "/playground/api/form":
        return act(req, res, "form");
    }
    json(res, 404, { error: "not found" });
  }

  return {
    chat,
    routes: {
      "/": listener,
      "/playground/api/messages": listener,
      "/playground/api/events": listener,
      "/playground/api/command": listener,
      "/playground/api/action": listener,
      "/playground/api/form": listener,
    },
    async close() {
      for (const stream of streams) stream.res.end();
      streams.clear();
      if (listening) await (await listening).unlisten().catch(() => {});
    },
  };
}
