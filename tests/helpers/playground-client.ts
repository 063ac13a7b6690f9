import { request } from "node:http";
import { expect } from "vitest";
import type { View } from "../../src/core/chat/chat.js";
import type { TestumUnderTest } from "./testum.js";
import { eventually } from "./testum.js";

/** A person at the playground's page, through its JSON API, as the page itself calls it. */
export interface PlaygroundClient {
  /** A GET (no body) or a POST of `body` as JSON, with the page's cookie and headers. */
  call(path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Sends a command as `who` and returns the text of the private answer it got. */
  send(who: string, text: string): Promise<string>;
}

const viewText = (view: View) => [view.text, ...view.blocks.map((b) => JSON.stringify(b))].join("\n");

/** Opens the playground's start link (which sets its cookie), then talks to its API. */
export async function openPlayground(testum: TestumUnderTest): Promise<PlaygroundClient> {
  const cookie = await new Promise<string>((resolve, reject) => {
    const url = new URL(testum.running.playgroundUrl!);
    request({ host: url.hostname, port: url.port, path: url.pathname + url.search }, (res) => {
      res.resume();
      resolve(String(res.headers["set-cookie"]).split(";")[0]!);
    })
      .on("error", reject)
      .end();
  });

  function call(path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const target = new URL(`${testum.url}${path}`);
    const headers: Record<string, string> = { host: target.host, origin: testum.url, cookie };
    if (body !== undefined) Object.assign(headers, { "content-type": "application/json", "x-testum-playground": "1" });
    return new Promise((resolve, reject) => {
      const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: body === undefined ? "GET" : "POST", headers }, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || "{}") as Record<string, unknown> }));
      });
      req.on("error", reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  async function send(who: string, text: string): Promise<string> {
    const before = ((await call(`/playground/api/messages?as=${who}`)).json.messages as Array<{ id: number }>).map((m) => m.id);
    expect((await call("/playground/api/command", { as: who, text })).status).toBe(200);
    return eventually(`the answer to ${text}`, async () => {
      const messages = (await call(`/playground/api/messages?as=${who}`)).json.messages as Array<{ id: number; private: boolean; author: string | null; view: View }>;
      // testum's answer, not the echo of the person's own command above it.
      const answer = messages.find((m) => m.private && m.author === null && !before.includes(m.id));
      return answer ? viewText(answer.view) : undefined;
    });
  }

  return { call, send };
}
