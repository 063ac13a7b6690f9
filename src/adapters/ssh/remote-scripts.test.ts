import { describe, expect, it } from "vitest";
import { signalScript, taskSignalScript } from "./remote-scripts.js";

describe("stop scripts", () => {
  it("never signal pid 1 or below (kill -- -1 would signal every process of the account)", () => {
    for (const pid of [1, 0, -1, 1.5, Number.NaN]) {
      expect(() => signalScript("TERM", pid)).toThrow(/above 1/);
      expect(() => taskSignalScript("KILL", "ab12", pid)).toThrow(/above 1/);
    }
    expect(signalScript("TERM", 4242)).toContain("kill -TERM -- -4242");
  });
});
