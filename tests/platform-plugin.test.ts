import { randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { ChatPlatform } from "../src/adapters/platform.js";
import { PLATFORMS } from "../src/adapters/platforms.js";
import { loadConfig } from "../src/config.js";
import type { ChatAdapter, Reply, View } from "../src/core/chat/chat.js";
import { ConfigError, optionalText, type ConfigFragment } from "../src/core/config.js";
import { defineStrings, LANGS, PLACEHOLDER, translate } from "../src/core/chat/i18n.js";
import { createTestDatabase } from "./helpers/db.js";
import { startTestumForTest, TEST_MASTER_KEY, type TestumUnderTest } from "./helpers/testum.js";

/**
 * A chat platform plugged in the way docs/adding-a-platform.md says, and
 * nowhere else: its configuration, texts, adapter, people and way in are all
 * here, and nothing in src/ names it.
 */
const ECHO_TEXT = defineStrings({
  en: { "adapter.echo.bad_token": "wrong token: check ECHO_TOKEN" },
  ru: { "adapter.echo.bad_token": "неверный токен: проверьте ECHO_TOKEN" },
});

const echoFields = {
  ECHO_TOKEN: optionalText.pipe(
    z
      .string()
      .regex(/^echo-/, "expected a token that starts with echo-")
      .optional(),
  ),
};
const echoConfig: ConfigFragment<typeof echoFields> = { fields: echoFields };

/** Messages the echo platform holds: a chat kept in memory. */
const posted: Array<{ ref: string; thread?: string; view: View }> = [];

const echoAdapter: ChatAdapter = {
  platform: "echo",
  minEditIntervalMs: 0,
  async startThread(_conversation, view) {
    const ref = `echo:m${posted.length}`;
    posted.push({ ref, view });
    return { message: ref, thread: ref };
  },
  async post(thread, view) {
    const ref = `echo:m${posted.length}`;
    posted.push({ ref, thread, view });
    return ref;
  },
  async edit(message, view) {
    const found = posted.find((m) => m.ref === message);
    if (found) found.view = view;
  },
};

function readJson(req: IncomingMessage): Promise<Record<string, string>> {
  return new Promise((resolve) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => resolve(JSON.parse(body) as Record<string, string>));
  });
}

const echo: ChatPlatform<typeof echoConfig> = {
  id: "echo",
  name: "Echo",
  identities: { person: "echo:alice" },
  config: echoConfig,
  strings: ECHO_TEXT,
  async connect(config) {
    const token = config.ECHO_TOKEN;
    if (!token) return { off: "Echo: off (ECHO_TOKEN not set)" };
    return {
      adapter: echoAdapter,
      people: { lookUp: async () => ({ state: "present", groups: [] }) },
      async listen({ core }) {
        async function listener(req: IncomingMessage, res: ServerResponse): Promise<void> {
          if (req.headers["x-echo-token"] !== token) {
            res.writeHead(401, { "content-type": "text/plain; charset=utf-8" }).end(translate("en", "adapter.echo.bad_token"));
            return;
          }
          const { as, text } = await readJson(req);
          const event = {
            kind: "command" as const,
            actor: { id: String(as), groups: [] },
            conversation: "echo:room",
            eventId: randomUUID(),
            respond: async () => {},
            input: { type: "text" as const, text: String(text) },
          };
          const reply: Reply = await core.handle(event);
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(reply));
        }
        return { routes: { "/echo/events": (req, res) => void listener(req, res) } };
      },
    };
  },
};

const WITH_ECHO = [...PLATFORMS, echo];

describe("every listed platform keeps the contract", () => {
  it("has its own identity prefix, and its identities start with it", () => {
    const ids = PLATFORMS.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of PLATFORMS) {
      for (const example of [p.identities.person, p.identities.group ?? p.identities.person]) expect(example.startsWith(`${p.id}:`), p.name).toBe(true);
    }
  });

  it("reads only variables named after it, and no other platform's", () => {
    const seen = new Set<string>();
    for (const p of PLATFORMS) {
      for (const name of Object.keys(p.config.fields)) {
        expect(name.startsWith(p.name.toUpperCase()), `${p.name}: ${name}`).toBe(true);
        expect(seen.has(name), name).toBe(false);
        seen.add(name);
      }
    }
  });

  it("says its own texts in every language, under adapter.<id>., with the same placeholders", () => {
    const names = (text: string) => [...text.matchAll(PLACEHOLDER)].map((m) => m[1]).sort();
    for (const p of WITH_ECHO) {
      if (!p.strings) continue;
      const { catalogues } = p.strings;
      const keys = Object.keys(catalogues.en).sort();
      for (const key of keys) expect(key.startsWith(`adapter.${p.id}.`), key).toBe(true);
      for (const lang of LANGS) {
        const texts = catalogues[lang] as Readonly<Record<string, string>>;
        expect(Object.keys(texts).sort(), `${p.name} ${lang}`).toEqual(keys);
        for (const key of keys) {
          expect(names(texts[key]!), `${lang} ${key}`).toEqual(names((catalogues.en as Readonly<Record<string, string>>)[key]!));
          expect(translate(lang, key as `adapter.${string}.${string}`)).toBe(texts[key]);
        }
      }
    }
  });
});

/** The TypeScript files under `dir`, tests left out. */
async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")).map((e) => `${e.parentPath}/${e.name}`);
}

describe("nothing outside the platforms' folders switches on a platform", () => {
  it("core, the runtime and the configuration name no listed platform in their code (comments may)", async () => {
    const files = [...(await sources("src/core")), "src/runtime.ts", "src/config.ts"];
    // A platform's id as a string ("slack:…", `discord:${…}`, "local") or among a regular expression's alternatives
    // ((slack|local)); not text that merely starts with the word ("discord: token …" in a sample of output).
    const named = new RegExp(`["'\`(|](${PLATFORMS.map((p) => p.id).join("|")})(:[A-Za-z0-9_$"'\`]|["'\`|)])`);
    const found: string[] = [];
    for (const file of files) {
      const code = (await readFile(file, "utf8")).replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
      code.split("\n").forEach((line, i) => named.test(line) && found.push(`${file}:${i + 1}: ${line.trim()}`));
    }
    expect(found).toEqual([]);
  });
});

describe("a platform plugged in through the list", () => {
  const base = { TESTUM_MASTER_KEY: TEST_MASTER_KEY };

  it("adds its variables to the configuration, checked like every other", () => {
    expect(loadConfig({ ...base, ECHO_TOKEN: "echo-1" }, { platforms: WITH_ECHO })).toMatchObject({ ECHO_TOKEN: "echo-1" });
    expect(() => loadConfig({ ...base, ECHO_TOKEN: "x" }, { platforms: WITH_ECHO })).toThrow(/ECHO_TOKEN: expected a token that starts with echo-/);
    // Not in the list, not read.
    expect(loadConfig({ ...base, ECHO_TOKEN: "x" })).not.toHaveProperty("ECHO_TOKEN");
  });

  it("adds its identities to those TESTUM_ADMINS accepts, and to what the error names", () => {
    expect(loadConfig({ ...base, TESTUM_ADMINS: "echo:ops" }, { platforms: WITH_ECHO }).TESTUM_ADMINS).toEqual(["echo:ops"]);
    expect(() => loadConfig({ ...base, TESTUM_ADMINS: "echo:ops" })).toThrow(
      'TESTUM_ADMINS: expected chat identities such as slack:T0123:U0456, discord:GUILD:USER or local:alice, got "echo:ops"',
    );
    try {
      loadConfig({ ...base, TESTUM_ADMINS: "ops" }, { platforms: WITH_ECHO });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toContain(
        'TESTUM_ADMINS: expected chat identities such as slack:T0123:U0456, discord:GUILD:USER, local:alice or echo:alice, got "ops"',
      );
    }
  });

  it("is refused at start when its adapter claims another platform's references", async () => {
    const db = await createTestDatabase();
    try {
      const liar: ChatPlatform<typeof echoConfig> = { ...echo, id: "liar", identities: { person: "liar:x" }, strings: undefined };
      await expect(startTestumForTest({ databaseUrl: db.url, platforms: [...PLATFORMS, liar], env: { ECHO_TOKEN: "echo-1" } })).rejects.toThrow(
        'Echo: its adapter says platform "echo", but its id is "liar"; they must be the same',
      );
    } finally {
      await db.drop();
    }
  });

  describe("in a running testum", () => {
    let testum: TestumUnderTest;
    const lines: string[] = [];

    beforeAll(async () => {
      testum = await startTestumForTest({ platforms: WITH_ECHO, env: { ECHO_TOKEN: "echo-1", TESTUM_ADMINS: "echo:ops" }, logLines: lines });
    });

    afterAll(async () => {
      await testum?.stop();
    });

    const send = async (as: string, text: string, token = "echo-1") => {
      const res = await fetch(`${testum.url}/echo/events`, { method: "POST", headers: { "x-echo-token": token }, body: JSON.stringify({ as, text }) });
      return { status: res.status, body: await res.text() };
    };
    const said = (body: string) => {
      const reply = JSON.parse(body) as Reply;
      return reply.kind === "private" ? [reply.view.text, ...reply.view.blocks.map((b) => ("text" in b ? b.text : ""))].join("\n") : "";
    };

    it("is started with the others, says so, and counts as a chat platform (the playground stays off)", () => {
      const log = lines.join("\n");
      expect(log).toContain("Slack: off (SLACK_BOT_TOKEN, with SLACK_APP_TOKEN or SLACK_SIGNING_SECRET, not set)");
      expect(log).toContain("playground: off (a chat platform is configured; PLAYGROUND=on turns it on)");
      expect(testum.running.playgroundUrl).toBeUndefined();
    });

    it("takes commands on its own route and answers with core's replies", async () => {
      expect(await send("echo:ops", "help", "wrong")).toEqual({ status: 401, body: "wrong token: check ECHO_TOKEN" });
      const help = await send("echo:ops", "help");
      expect(help.status).toBe(200);
      expect(said(help.body)).toContain("/testum run");
    });

    it("lets people grant roles to its identities by name, like any platform's", async () => {
      expect(said((await send("echo:ops", "grant echo:bob operator")).body)).toContain("echo:bob is now operator on *.");
      const rows = await testum.sql<{ subject: string }[]>`select subject from role_bindings where role = 'operator'`;
      expect(rows.map((r) => r.subject)).toContain("echo:bob");
      expect(said((await send("echo:ops", "grant nobody operator")).body)).toContain('"nobody" is not a user or group');
    });
  });
});
