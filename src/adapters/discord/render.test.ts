import { describe, expect, it } from "vitest";
import type { View } from "../../core/chat/chat.js";
import { sanitizeLine } from "../../core/jobs/tail.js";
import { escapeMarkdown, LIMITS, renderMessage, renderModal } from "./render.js";

const embedChars = (e: { title?: string; description?: string; fields?: Array<{ name: string; value: string }>; footer?: { text: string } }) =>
  (e.title?.length ?? 0) + (e.description?.length ?? 0) + (e.footer?.text.length ?? 0) + (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0);

describe("renderMessage", () => {
  it("puts the tail of the output in a fenced block of at most ~1,900 characters", () => {
    const lines = Array.from({ length: 500 }, (_, i) => `${String(i + 1).padStart(4, "0")} ${"x".repeat(95)}`);
    const { content, embeds } = renderMessage({
      text: "out",
      blocks: [
        { type: "code", lines, omitted: 1000 },
        { type: "context", text: "running" },
      ],
    });
    expect(content.length).toBeLessThanOrEqual(LIMITS.codeTail + 8);
    expect(content).toMatch(/^```\n… 1,48\d earlier lines in the full log\n/);
    expect(content.endsWith(`0500 ${"x".repeat(95)}\n\`\`\``)).toBe(true);
    expect(embeds[0]!.footer!.text).toBe("running");
  });

  it("keeps a code fence inside the output from closing the block", () => {
    const { content } = renderMessage({ text: "out", blocks: [{ type: "code", lines: [sanitizeLine("```"), sanitizeLine("@everyone")] }] });
    expect(content.match(/```/g)).toHaveLength(2);
  });

  it("always forbids mentions, and escapes text so it cannot render one", () => {
    const view: View = {
      text: "t",
      blocks: [
        { type: "heading", text: "# job" },
        { type: "text", text: "@everyone <@123456789012345678> *bold* [x](http://e.x)" },
      ],
    };
    const message = renderMessage(view);
    expect(message.allowed_mentions).toEqual({ parse: [] });
    expect(message.embeds[0]!.title).toBe("\\# job");
    expect(message.embeds[0]!.description).toBe("@\u200beveryone \\<@123456789012345678> \\*bold\\* \\[x\\](http://e.x)");
    expect(escapeMarkdown("- item\n> quote\n1. first")).toBe("\\- item\n\\> quote\n1\\. first");
  });

  it("stays within the embed limits however much there is to say", () => {
    const fields = Array.from({ length: 30 }, (_, i) => ({ label: `field ${i}`, value: "v".repeat(2000) }));
    const { embeds } = renderMessage({
      text: "big",
      blocks: [
        { type: "heading", text: "h".repeat(300) },
        { type: "fields", fields },
        { type: "text", text: "d".repeat(10_000) },
      ],
    });
    const embed = embeds[0]!;
    expect(embed.title!.length).toBeLessThanOrEqual(LIMITS.embedTitle);
    expect(embed.fields!.length).toBeLessThanOrEqual(LIMITS.embedFields);
    for (const f of embed.fields!) expect(f.value.length).toBeLessThanOrEqual(LIMITS.fieldValue);
    expect(embed.description?.length ?? 0).toBeLessThanOrEqual(LIMITS.embedDescription);
    expect(embedChars(embed)).toBeLessThanOrEqual(LIMITS.embedTotal);
  });

  it("renders links as masked links whose URL cannot end early", () => {
    const { embeds } = renderMessage({ text: "l", blocks: [{ type: "links", links: [{ label: "Full log", url: "https://x.example/a(b) c" }] }] });
    expect(embeds[0]!.description).toBe("[Full log](https://x.example/a%28b%29%20c)");
  });

  it("lays buttons out in rows of five with unique custom ids", () => {
    const buttons = Array.from({ length: 7 }, (_, i) => ({ label: `b${i}`, action: `act:${i}`, ...(i === 0 ? { style: "danger" as const } : {}) }));
    const { components } = renderMessage({ text: "b", blocks: [{ type: "actions", buttons: [...buttons, { label: "again", action: "act:1" }] }] });
    expect(components.map((r) => r.components.length)).toEqual([5, 2]);
    expect(components[0]!.components[0]).toMatchObject({ type: 2, style: 4, custom_id: "act:0", label: "b0" });
    expect(() => renderMessage({ text: "b", blocks: [{ type: "actions", buttons: [{ label: "x", action: "a".repeat(101) }] }] })).toThrow(/100-character/);
  });

  it("never renders an empty message", () => {
    const message = renderMessage({ text: "only a summary", blocks: [] });
    expect(message.embeds[0]!.description).toBe("only a summary");
  });
});

describe("renderModal", () => {
  it("makes a modal of at most five short or paragraph text inputs", () => {
    const fields = Array.from({ length: 6 }, (_, i) => ({ id: `f${i}`, label: `A rather long label for field number ${i} of the form`, multiline: i === 1 }));
    const modal = renderModal({ action: "reason:7", title: "Why are you cancelling this job right now?", fields });
    expect(modal.custom_id).toBe("reason:7");
    expect(modal.title.length).toBeLessThanOrEqual(LIMITS.modalTitle);
    expect(modal.components).toHaveLength(5);
    const inputs = modal.components.map((row) => (row as { components: Array<{ style: number; label: string; required: boolean }> }).components[0]!);
    expect(inputs.map((i) => i.style)).toEqual([1, 2, 1, 1, 1]);
    for (const input of inputs) expect(input.label.length).toBeLessThanOrEqual(LIMITS.inputLabel);
  });
});
