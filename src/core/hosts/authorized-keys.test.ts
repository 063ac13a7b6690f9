import { describe, expect, it } from "vitest";
import { BLOCK_END, BLOCK_START, parseAuthorizedKeys, renderAuthorizedKeys, withKeys, withoutKeys } from "./authorized-keys.js";

const foreign = "# my keys\r\nssh-ed25519 AAAAforeign1 bob@box\n\n  ssh-rsa AAAAforeign2   weird  spacing  \nno-newline-at-end";

describe("authorized_keys block", () => {
  it("adds a block and leaves every foreign byte as it was", () => {
    const file = parseAuthorizedKeys(foreign);
    expect(file.unmanagedCount).toBe(3);
    const out = renderAuthorizedKeys(file, withKeys(file.managed, [{ owner: "key:alice", key: "ssh-ed25519 AAAAalice alice@laptop" }]));
    expect(out.startsWith(foreign + "\n")).toBe(true);
    expect(out).toContain(`${BLOCK_START}\nssh-ed25519 AAAAalice alice@laptop testum:key:alice\n${BLOCK_END}\n`);
    const again = parseAuthorizedKeys(out);
    expect(again.managed).toEqual([{ owner: "key:alice", key: "ssh-ed25519 AAAAalice alice@laptop" }]);
    // Idempotent: the same keys render the same bytes.
    expect(renderAuthorizedKeys(again, withKeys(again.managed, again.managed))).toBe(out);
  });

  it("keeps text after the block and removes the block when it empties", () => {
    const withBlock = `first\n${BLOCK_START}\nssh-ed25519 AAAA1 testum:key:a\n${BLOCK_END}\nlast line\n`;
    const file = parseAuthorizedKeys(withBlock);
    expect(file.before).toBe("first\n");
    expect(file.after).toBe("last line\n");
    expect(renderAuthorizedKeys(file, withoutKeys(file.managed, ["key:a"]))).toBe("first\nlast line\n");
  });

  it("never removes testum's identity key", () => {
    const managed = [
      { owner: "identity:1", key: "ssh-ed25519 AAAAid" },
      { owner: "key:a", key: "ssh-ed25519 AAAAa" },
    ];
    expect(withoutKeys(managed, ["identity:1", "key:a"])).toEqual([managed[0]]);
  });

  it("replaces a key of the same owner in place", () => {
    const managed = [
      { owner: "key:a", key: "old" },
      { owner: "key:b", key: "b" },
    ];
    expect(withKeys(managed, [{ owner: "key:a", key: "new" }])).toEqual([
      { owner: "key:a", key: "new" },
      { owner: "key:b", key: "b" },
    ]);
  });
});
