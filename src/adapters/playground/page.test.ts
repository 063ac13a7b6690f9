import { describe, expect, it } from "vitest";
import { en } from "../../core/chat/i18n/en.js";
import { ru } from "../../core/chat/i18n/ru.js";
import { renderPage } from "./page.js";

describe("the playground page", () => {
  it("draws as an icon every status emoji a message of testum's starts with", () => {
    const page = renderPage(["local:admin"]);
    const table = /const ICONS = \{([\s\S]*?)\n\};/.exec(page)?.[1];
    expect(table).toBeDefined();
    const drawn = new Set([...table!.matchAll(/"([^"]+)": \[/g)].map((m) => m[1]!));
    const leading = /^(\p{Extended_Pictographic}\uFE0F?)/u;
    const used = new Set<string>();
    for (const text of [...Object.values(en), ...Object.values(ru)]) {
      const m = leading.exec(text);
      if (m) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((e) => !drawn.has(e))).toEqual([]);
  });
});
