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
