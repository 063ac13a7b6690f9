import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";

describe("durations", () => {
  it("are written for people in their language", () => {
    const ms = [850, 12_345, 245_000, 7_380_000];
    expect(ms.map((n) => formatDuration(n))).toEqual(["850ms", "12.3s", "4m 05s", "2h 03m"]);
    expect(ms.map((n) => formatDuration(n, "ru"))).toEqual(["850\u00a0мс", "12,3\u00a0с", "4\u00a0мин 05\u00a0с", "2\u00a0ч 03\u00a0мин"]);
  });

  it("are read with a unit only", () => {
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("30")).toBeUndefined();
  });
});
