import { describe, expect, it } from "vitest";
import { forCommandLine } from "./shared.js";

const verbs = [
  { name: "hosts", verbs: [{ name: "list" }, { name: "repin" }, { name: "test" }] },
  { name: "identity" },
  { name: "risk", verbs: [{ name: "list" }, { name: "add" }] },
];

describe("hints on the command line", () => {
  it("name the CLI's own form of a chat command; commands only chat has stay as chat writes them", () => {
    expect(forCommandLine("no host named x. /testum hosts lists the known hosts.", verbs)).toBe("no host named x. testum hosts list lists the known hosts.");
    expect(forCommandLine("accept the new key with /testum hosts repin web-1.", verbs)).toBe("accept the new key with testum hosts repin web-1.");
    expect(forCommandLine("see /testum identity", verbs)).toBe("see testum identity");
    expect(forCommandLine("no risk pattern #3; /testum risk lists them", verbs)).toBe("no risk pattern #3; testum risk list lists them");
    expect(forCommandLine("/testum run web-1 'df -h' in chat", verbs)).toBe("/testum run web-1 'df -h' in chat");
  });
});
