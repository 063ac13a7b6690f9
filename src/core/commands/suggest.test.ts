import { describe, expect, it } from "vitest";
import { closestWord } from "./suggest.js";

describe("closestWord", () => {
  it("finds what a typo meant, and nothing for a word that is not close", () => {
    expect(closestWord("rnu", ["run", "script", "hosts"])).toBe("run");
    expect(closestWord("hots", ["run", "script", "hosts"])).toBe("hosts");
    expect(closestWord("shw", ["list", "show", "add"])).toBe("show");
    expect(closestWord("schedlue", ["schedule", "script"])).toBe("schedule");
    expect(closestWord("deploy", ["run", "hosts"])).toBeUndefined();
    expect(closestWord("x", ["x1"])).toBeUndefined();
  });
});
