import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App } from "../../src/core/app.js";
import type { ChatAdapter, Inbound, Reply, View } from "../../src/core/chat/chat.js";
import { RateLimitedError } from "../../src/core/errors.js";
import { translator } from "../../src/core/chat/i18n.js";

/**
 * The chat contract every adapter must keep, run against each platform's
 * adapter and its fake API. A platform joins by providing a driver.
 */
export interface ContractDriver {
  readonly adapter: ChatAdapter;
  /** A conversation the bot may post in. */
  readonly conversation: string;
  /** Everything a person sees of a message, as plain text, and its buttons' payloads. */
  read(message: string): Promise<{ text: string; buttons: string[] } | undefined> | { text: string; buttons: string[] } | undefined;
  /** The messages in the thread a reference names, oldest first. */
  threadMessages(thread: string): Promise<string[]> | string[];
  /** Whether any message so far would have notified @everyone/@here/@channel or a user. */
  anyPings(): Promise<boolean> | boolean;
  /**
   * The platform's rate limits, where it has any: make it answer the next
   * edit with 429 and Retry-After `seconds`, and count its 429s.
   */
  readonly rateLimits?: { nextEdit(seconds: number): void; count(): number };
  /** Sends a signed slash command as the platform does; `typed` options where the platform has them. */
  sendCommand(text: string, typed: { path: string[]; options: Record<string, string> }): Promise<{ status: number; body: string }>;
  /** Sends the same command with a forged signature (transports that sign requests). */
  sendForged?(text: string, typed: { path: string[]; options: Record<string, string> }): Promise<{ status: number }>;
  stop(): Promise<void>;
}

/** A core that records what reaches it and answers with a fixed reply. */
export function recordingCore(reply: Reply): App & { events: Inbound[] } {
  const events: Inbound[] = [];
  return {
    events,
    async handle(event) {
      events.push(event);
      return reply;
    },
    async complete() {
      return [];
    },
    translator: () => translator("en"),
  };
}

const plain = (text: string): View => ({ text, blocks: [{ type: "text", text }] });

/** Edits as the live-message coalescer does: waiting out testum's own pacing. */
async function editWhenAllowed(adapter: ChatAdapter, ref: string, view: View): Promise<void> {
  for (;;) {
    try {
      return await adapter.edit(ref, view);
    } catch (err) {
      if (!(err instanceof RateLimitedError)) throw err;
      await new Promise((r) => setTimeout(r, err.retryAfterMs));
    }
  }
}

/**
 * How a transport proves where a request came from: `signed` ones (HTTP
 * endpoints) check a signature on every request; a connection testum opened
 * itself (Socket Mode, the Gateway) is authenticated once, by its token.
 */
export interface ContractTransport {
  readonly name: string;
  readonly signed: boolean;
}

const HTTP: ContractTransport = { name: "HTTP", signed: true };

export function chatContract(platform: string, start: (core: App) => Promise<ContractDriver>, transport: ContractTransport = HTTP): void {
  describe(`the chat contract: ${platform} over ${transport.name}`, () => {
    let driver: ContractDriver;
    const core = recordingCore({ kind: "private", view: plain("queued for you") });

    beforeAll(async () => {
      driver = await start(core);
    });
    afterAll(async () => {
      await driver?.stop();
    });

    it("names itself and owns every reference it returns", async () => {
      expect(driver.adapter.platform).toBe(platform);
      const started = await driver.adapter.startThread(driver.conversation, plain("parent"), "a thread");
      const reply = await driver.adapter.post(started.thread, plain("in the thread"));
      for (const ref of [started.message, started.thread, reply]) expect(ref.startsWith(`${platform}:`)).toBe(true);
      expect((await driver.read(started.message))?.text).toContain("parent");
      expect(await driver.threadMessages(started.thread)).toContain(reply);
    });

    it("edits a message so the newest view is what people see", async () => {
      const started = await driver.adapter.startThread(driver.conversation, plain("first"), "edits");
      await editWhenAllowed(driver.adapter, started.message, plain("second"));
      const seen = (await driver.read(started.message))!.text;
      expect(seen).toContain("second");
      expect(seen).not.toContain("first");
    });

    it("renders every kind of block, with buttons carrying their payloads", async () => {
      const view: View = {
        text: "all blocks",
        tone: "success",
        blocks: [
          { type: "heading", text: "Heading here" },
          { type: "text", text: "Some text" },
          { type: "fields", fields: [{ label: "Host", value: "db-1" }] },
          { type: "code", lines: ["line one", "line two"] },
          { type: "links", links: [{ label: "Full log", url: "https://testum.example/logs/abc" }] },
          { type: "context", text: "footnote" },
          {
            type: "actions",
            buttons: [
              { label: "Approve", action: "t1:approve:7", style: "primary" },
              { label: "Reject", action: "t1:reject:7", style: "danger" },
            ],
          },
        ],
      };
      const started = await driver.adapter.startThread(driver.conversation, view, "blocks");
      const seen = (await driver.read(started.message))!;
      for (const part of ["Heading here", "Some text", "db-1", "line two", "Full log", "footnote"]) expect(seen.text).toContain(part);
      expect(seen.buttons).toEqual(["t1:approve:7", "t1:reject:7"]);
    });

    it("keeps a huge output tail within the platform's limits, showing its end", async () => {
      const lines = Array.from({ length: 20_000 }, (_, i) => `output line ${i + 1} ${"z".repeat(120)}`);
      const started = await driver.adapter.startThread(driver.conversation, plain("big"), "big output");
      const message = await driver.adapter.post(started.thread, {
        text: "tail",
        blocks: [
          { type: "code", lines },
          { type: "context", text: "20,000 lines" },
        ],
      });
      const seen = (await driver.read(message))!.text;
      expect(seen).toContain("output line 20000");
      expect(seen).not.toContain("output line 1 ");
    });

    it("never lets text ping anyone", async () => {
      const hostile = "@everyone @here <!channel> <!here> <@U0ADMIN0001> <@123456789012345678> <@&123456789012345678>";
      const view: View = {
        text: hostile,
        blocks: [
          { type: "heading", text: hostile },
          { type: "text", text: hostile },
          { type: "code", lines: [hostile] },
          { type: "context", text: hostile },
        ],
      };
      const started = await driver.adapter.startThread(driver.conversation, view, hostile);
      await driver.adapter.post(started.thread, view);
      await editWhenAllowed(driver.adapter, started.message, view);
      expect(await driver.anyPings()).toBe(false);
    });

    it("reports the platform's rate limit as RateLimitedError with the time to wait, where the platform has limits", async () => {
      const started = await driver.adapter.startThread(driver.conversation, plain("limited"), "limits");
      const limits = driver.rateLimits;
      if (!limits) {
        // No platform limits: rapid edits all go through.
        for (let i = 0; i < 30; i++) await driver.adapter.edit(started.message, plain(`edit ${i}`));
        expect((await driver.read(started.message))!.text).toContain("edit 29");
        return;
      }
      limits.nextEdit(2);
      const before = limits.count();
      let err: unknown;
      // testum's own pacing may hold the first attempts back; what matters is the platform's answer.
      while (limits.count() === before) {
        err = await driver.adapter.edit(started.message, plain("edited")).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RateLimitedError);
        if (limits.count() === before) await new Promise((r) => setTimeout(r, (err as RateLimitedError).retryAfterMs));
      }
      expect((err as RateLimitedError).retryAfterMs).toBeGreaterThanOrEqual(1000);
      // The shared budget keeps every process off the platform until the wait is over.
      const again = await driver.adapter.edit(started.message, plain("edited")).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(RateLimitedError);
    });

    it("turns a command as the platform delivers it into one Inbound event with a platform identity and answers with core's reply", async () => {
      const before = core.events.length;
      const res = await driver.sendCommand("run db-1 'uptime'", { path: ["run"], options: { target: "db-1", command: "uptime" } });
      expect(res.status).toBe(200);
      expect(res.body).toContain("queued for you");
      expect(core.events.length).toBe(before + 1);
      const event = core.events.at(-1)!;
      expect(event.kind).toBe("command");
      expect(event.actor.id.startsWith(`${platform}:`)).toBe(true);
      expect(event.conversation).toBe(driver.conversation);
      if (event.kind === "command") {
        expect(event.input.type === "text" ? event.input.text : event.input.options).toEqual(
          event.input.type === "text" ? "run db-1 'uptime'" : { target: "db-1", command: "uptime" },
        );
      }
    });

    // A connection testum opened itself carries no per-request signature to forge.
    if (transport.signed) {
      it("refuses a forged signature with 401 before core sees anything", async () => {
        const before = core.events.length;
        const res = await driver.sendForged!("run db-1 'rm -rf /'", { path: ["run"], options: { target: "db-1", command: "rm -rf /" } });
        expect(res.status).toBe(401);
        expect(core.events.length).toBe(before);
      });
    }
  });
}
