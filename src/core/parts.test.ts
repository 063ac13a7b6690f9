import { describe, expect, it } from "vitest";
import { startParts, type Part } from "./parts.js";
import type { Logger } from "./ports.js";

const warnings: string[] = [];
const log = { warn: (_: object, text: string) => void warnings.push(text), info() {}, error() {}, debug() {} } as unknown as Logger;

function part(name: string, events: string[], options: { failStart?: boolean; hang?: boolean; stopWithinMs?: number } = {}): Part<unknown> {
  return {
    name,
    start() {
      if (options.failStart) throw new Error(`${name} cannot start`);
      events.push(`start ${name}`);
      return {
        stop: () => {
          events.push(`stop ${name}`);
          return options.hang ? new Promise<void>(() => {}) : undefined;
        },
        stopWithinMs: options.stopWithinMs,
      };
    },
  };
}

describe("startParts", () => {
  it("starts parts in order and stops them in reverse order", async () => {
    const events: string[] = [];
    const quiet: Part<unknown> = { name: "quiet", start: () => void events.push("start quiet") };
    const running = await startParts([part("a", events), quiet, part("b", events)], {}, log);
    await running.stop();
    expect(events).toEqual(["start a", "start quiet", "start b", "stop b", "stop a"]);
  });

  it("goes on past a part that does not stop within its bound, and says so", async () => {
    const events: string[] = [];
    const running = await startParts([part("a", events), part("stuck", events, { hang: true, stopWithinMs: 50 })], {}, log);
    const began = Date.now();
    await running.stop();
    expect(Date.now() - began).toBeLessThan(2000);
    expect(events.slice(-2)).toEqual(["stop stuck", "stop a"]);
    expect(warnings.some((w) => w.startsWith("stuck did not stop within"))).toBe(true);
  });

  it("keeps the whole stop within its total when every part hangs, still giving each a last moment", async () => {
    const events: string[] = [];
    const hung = ["a", "b", "c", "d"].map((n) => part(n, events, { hang: true, stopWithinMs: 60_000 }));
    const running = await startParts(hung, {}, log, { totalMs: 300 });
    const began = Date.now();
    await running.stop();
    const took = Date.now() - began;
    // The first part uses the total; each later one gets the last slice (1 s), not its own minute.
    expect(took).toBeGreaterThanOrEqual(300 + 3 * 1000 - 50);
    expect(took).toBeLessThan(300 + 3 * 1000 + 1500);
    expect(events.filter((e) => e.startsWith("stop"))).toEqual(["stop d", "stop c", "stop b", "stop a"]);
  });

  it("tells every part the stop has begun before it stops the first, so a long one starts at once", async () => {
    const events: string[] = [];
    const early = (name: string): Part<unknown> => ({
      name,
      start: () => ({ beginStop: () => void events.push(`told ${name}`), stop: () => void events.push(`stop ${name}`) }),
    });
    const running = await startParts([early("worker"), part("plain", events), early("web")], {}, log);
    await running.stop();
    expect(events).toEqual(["start plain", "told web", "told worker", "stop web", "stop plain", "stop worker"]);
  });

  it("stops the parts already started when one fails to start, and throws its failure", async () => {
    const events: string[] = [];
    await expect(startParts([part("a", events), part("b", events), part("c", events, { failStart: true }), part("d", events)], {}, log)).rejects.toThrow("c cannot start");
    expect(events).toEqual(["start a", "start b", "stop b", "stop a"]);
  });

  it("stops each part once, however often it is asked", async () => {
    const events: string[] = [];
    const running = await startParts([part("a", events)], {}, log);
    await Promise.all([running.stop(), running.stop()]);
    expect(events).toEqual(["start a", "stop a"]);
  });
});
