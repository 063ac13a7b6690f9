import { describe, expect, it } from "vitest";
import type { ChatAdapter, View } from "./chat.js";
import { RateLimitedError } from "../errors.js";
import { LiveMessage } from "./live.js";

const view = (n: number): View => ({ text: `frame ${n}`, blocks: [{ type: "text", text: `frame ${n}` }] });

/** An adapter whose edits take `latencyMs`; `failures` answers come first. */
function recordingAdapter(latencyMs: number, failures: Array<Error> = []) {
  const edits: Array<{ text: string; at: number }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const adapter: ChatAdapter = {
    platform: "test",
    minEditIntervalMs: 50,
    startThread: async () => ({ message: "m", thread: "t" }),
    post: async () => "m",
    async edit(_ref, v) {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, latencyMs));
      inFlight -= 1;
      const failure = failures.shift();
      if (failure) throw failure;
      edits.push({ text: v.text, at: Date.now() });
    },
  };
  return { adapter, edits, maxInFlight: () => maxInFlight };
}

describe("LiveMessage", () => {
  it("drops intermediate frames, keeps one request in flight, and shows the newest", async () => {
    const { adapter, edits, maxInFlight } = recordingAdapter(30);
    const live = new LiveMessage(adapter, "m");
    for (let i = 1; i <= 200; i++) {
      live.update(view(i));
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await live.finish(view(999))).toBe(true);
    expect(maxInFlight()).toBe(1);
    expect(edits.length).toBeLessThan(20);
    expect(edits.at(-1)!.text).toBe("frame 999");
    const order = edits.map((e) => Number(e.text.split(" ")[1]));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("waits as long as a rate limit asks before the next edit", async () => {
    const { adapter, edits } = recordingAdapter(1, [new RateLimitedError(400)]);
    const live = new LiveMessage(adapter, "m");
    const start = Date.now();
    expect(await live.finish(view(1))).toBe(true);
    expect(edits).toHaveLength(1);
    expect(edits[0]!.at - start).toBeGreaterThanOrEqual(390);
  });

  it("gives up on the final view after repeated failures and says so", async () => {
    const failures = Array.from({ length: 10 }, () => new Error("boom"));
    const { adapter, edits } = recordingAdapter(1, failures);
    const live = new LiveMessage(adapter, "m", { maxFailures: 2 });
    expect(await live.finish(view(1))).toBe(false);
    expect(edits).toHaveLength(0);
  });

  it("sends nothing when the view did not change", async () => {
    const { adapter, edits } = recordingAdapter(1);
    const live = new LiveMessage(adapter, "m");
    live.update(view(1));
    await live.finish(view(1));
    live.update(view(1));
    await new Promise((r) => setTimeout(r, 100));
    expect(edits).toHaveLength(1);
  });
});
