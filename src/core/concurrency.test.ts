import { describe, expect, it } from "vitest";
import { Batch } from "./concurrency.js";

describe("Batch", () => {
  it("runs what is added in one turn together, and what arrives meanwhile in the next run", async () => {
    const runs: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const batch = new Batch<number, string>(async (items) => {
      runs.push(items);
      if (runs.length === 1) await gate;
      return items.map((i) => `r${i}`);
    });
    const first = [1, 2, 3].map((i) => batch.add(i));
    await new Promise((r) => setImmediate(r));
    // The first run is in flight: these wait for it, then go together.
    const second = [4, 5].map((i) => batch.add(i));
    await new Promise((r) => setTimeout(r, 20));
    expect(runs).toEqual([[1, 2, 3]]);
    release();
    expect(await Promise.all([...first, ...second])).toEqual(["r1", "r2", "r3", "r4", "r5"]);
    expect(runs).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it("fails every item of a run that fails, and goes on with the next", async () => {
    let calls = 0;
    const batch = new Batch<number>(async () => {
      calls += 1;
      if (calls === 1) throw new Error("database away");
    });
    const failed = [batch.add(1), batch.add(2)];
    await expect(Promise.all(failed)).rejects.toThrow("database away");
    await expect(failed[1]).rejects.toThrow("database away");
    await expect(batch.add(3)).resolves.toBeUndefined();
  });
});
