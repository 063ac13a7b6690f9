import { createPlayground } from "../../src/adapters/playground/http.js";
import { authorOf, createPlaygroundStore } from "../../src/adapters/playground/store.js";
import { hostsFor, newPlaygroundKey } from "../../src/adapters/playground/guard.js";
import { connect } from "../../src/core/db.js";
import { createTestDatabase } from "../helpers/db.js";
import { quietLogger } from "../helpers/testum.js";
import { chatContract } from "./chat-contract.js";
import { serve } from "./harness.js";

/** Text a person reads in the playground: every block's words. */
function viewText(view: { blocks: ReadonlyArray<Record<string, unknown>> }): { text: string; buttons: string[] } {
  const parts: string[] = [];
  const buttons: string[] = [];
  for (const block of view.blocks) {
    if (typeof block.text === "string") parts.push(block.text);
    if (Array.isArray(block.lines)) parts.push((block.lines as string[]).join("\n"));
    for (const f of (block.fields as Array<{ label: string; value: string }>) ?? []) parts.push(f.label, f.value);
    for (const l of (block.links as Array<{ label: string }>) ?? []) parts.push(l.label);
    for (const b of (block.buttons as Array<{ action: string }>) ?? []) buttons.push(b.action);
  }
  return { text: parts.join("\n"), buttons };
}

chatContract("local", async (core) => {
  const db = await createTestDatabase();
  const sql = connect(db.url, { max: 4 });
  const key = newPlaygroundKey();
  let hosts: string[] = [];
  const playground = createPlayground({ sql, core, log: quietLogger(), access: { key, allowedHosts: () => hosts } });
  const store = createPlaygroundStore(sql);
  const { url, server } = await serve((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const route = playground.routes[path as keyof typeof playground.routes];
    if (route) void route(req, res);
    else res.writeHead(404).end();
  });
  hosts = hostsFor(Number(new URL(url).port));
  const messageOf = async (ref: string) => store.get(Number(ref.split(":")[2]));
  const post = (headers: Record<string, string>, text: string) =>
    fetch(`${url}/playground/api/command`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: url, cookie: `testum_playground_${new URL(url).port}=${key}`, ...headers },
      body: JSON.stringify({ as: "local:alice", text: `/testum ${text}` }),
    });
  return {
    adapter: playground.chat,
    conversation: "local:general",
    async read(ref) {
      const message = await messageOf(ref);
      return message ? viewText(message.view as never) : undefined;
    },
    async threadMessages(thread) {
      const parent = Number(thread.split(":")[2]);
      return (await store.recent("local:alice", 1000)).filter((m) => m.thread === parent).map((m) => `local:general:${m.id}`);
    },
    // Nothing the playground shows is parsed for mentions: its page builds text nodes, never markup.
    anyPings: () => false,
    async sendCommand(text) {
      const res = await post({ "x-testum-playground": "1" }, text);
      // Private answers are messages only the actor sees.
      const answers = await store.recent("local:alice");
      const last = answers.filter((m) => m.privateTo === "local:alice" && authorOf(m) === null).at(-1);
      return { status: res.status, body: last ? viewText(last.view as never).text : await res.text() };
    },
    async sendForged(text) {
      return post({}, text);
    },
    async stop() {
      server.close();
      await playground.close();
      await sql.end();
      await db.drop();
    },
  };
});
