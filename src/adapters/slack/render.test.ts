import { describe, expect, it } from "vitest";
import { escapeMrkdwn, LIMITS, renderView } from "./render.js";

describe("Slack rendering", () => {
  it("escapes &, < and > so nothing becomes a mention", () => {
    expect(escapeMrkdwn("<!channel> <@U1> a&b")).toBe("&lt;!channel&gt; &lt;@U1&gt; a&amp;b");
    const out = renderView({
      text: "<!here>",
      blocks: [
        { type: "text", text: "<!everyone>" },
        { type: "context", text: "<@U9>" },
      ],
    });
    expect(JSON.stringify(out)).not.toMatch(/<!|<@/);
  });

  it("keeps huge output within Slack's section, block and total limits, showing the end", () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i + 1} ${"x".repeat(150)}`);
    const out = renderView({
      text: "t".repeat(10_000),
      blocks: [
        { type: "heading", text: "h".repeat(5000) },
        { type: "fields", fields: Array.from({ length: 15 }, (_, i) => ({ label: `f${i}`, value: "v".repeat(3000) })) },
        { type: "code", lines, omitted: 10 },
        { type: "text", text: "y".repeat(9000) },
      ],
    });
    expect(out.blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
    expect(out.text.length).toBeLessThanOrEqual(LIMITS.fallbackText);
    let total = 0;
    for (const block of out.blocks) {
      const json = block as { text?: { text: string }; fields?: Array<{ text: string }>; elements?: Array<{ elements?: Array<{ text: string }> }> };
      if (json.text) {
        expect(json.text.text.length).toBeLessThanOrEqual(LIMITS.sectionText);
        total += json.text.text.length;
      }
      for (const f of json.fields ?? []) {
        expect(f.text.length).toBeLessThanOrEqual(LIMITS.fieldText);
        total += f.text.length;
      }
      expect((json.fields ?? []).length).toBeLessThanOrEqual(LIMITS.fields);
      for (const e of json.elements ?? []) for (const t of e.elements ?? []) total += t.text.length;
    }
    expect(total).toBeLessThanOrEqual(12_000);
    const code = out.blocks.find((b) => b.type === "rich_text") as { elements: Array<{ elements: Array<{ text: string }> }> } | undefined;
    expect(code).toBeDefined();
    expect(code!.elements[0]!.elements[0]!.text).toContain("line 5000");
    expect(code!.elements[0]!.elements[0]!.text).toMatch(/earlier lines in the full log/);
  });
});
