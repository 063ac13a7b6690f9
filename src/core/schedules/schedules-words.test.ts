import { describe, expect, it } from "vitest";
import { translate, translator } from "../chat/i18n.js";
import { describeCron } from "./schedules.js";

describe("schedules and states in words", () => {
  it("says */1 as every minute (and every second), in both languages", () => {
    expect(describeCron("*/1 * * * *")).toBe("every minute");
    expect(describeCron("* * * * *")).toBe("every minute");
    expect(describeCron("*/5 * * * *")).toBe("every 5 minutes");
    expect(describeCron("*/1 * * * * *")).toBe("every second");
    expect(describeCron("*/1 * * * *", translator("ru"))).toBe(describeCron("* * * * *", translator("ru")));
  });

  it("writes a timed-out job's state in words, not as the stored value", () => {
    expect(translate("en", "state.timed_out")).toBe("timed out");
  });
});
