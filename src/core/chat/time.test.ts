import { describe, expect, it } from "vitest";
import { english, translator } from "./i18n.js";
import { formatAgo, formatClock, formatTime, formatTimeAgo } from "./time.js";

const at = new Date("2026-12-07T04:56:07.123Z");
const minute = 60_000;

describe("times for people", () => {
  it("are written one way: UTC, to the minute, or to the second where rows must stay apart", () => {
    expect(formatTime(at)).toBe("2026-12-07 04:56 UTC");
    expect(formatTime(at, "seconds")).toBe("2026-12-07 04:56:07 UTC");
    expect(formatClock(at)).toBe("04:56:07 UTC");
  });

  it("say how long ago, in the reader's language", () => {
    const now = at.getTime();
    expect([0, 5 * minute, 3 * 60 * minute, 72 * 60 * minute].map((ago) => formatAgo(new Date(now - ago), english, now))).toEqual([
      "just now",
      "5 min ago",
      "3 h ago",
      "3 days ago",
    ]);
    expect(formatAgo(new Date(now - 2 * 24 * 60 * minute), translator("ru"), now)).toBe("2 дня назад");
    expect(formatTimeAgo(at, english, now + 5 * minute)).toBe("2026-12-07 04:56 UTC (5 min ago)");
    // A moment still to come has no "ago".
    expect(formatTimeAgo(at, english, now - minute)).toBe("2026-12-07 04:56 UTC");
  });
});
