import type { Block, Form, View } from "../../core/chat/chat.js";
import { translate, type Lang } from "../../core/chat/i18n.js";
import { earlierLines } from "../../core/chat/replies.js";
import { fitTail, showBidi, truncate } from "../../core/jobs/tail.js";

/**
 * Core views → Slack Block Kit, within Slack's limits:
 * section text ≤ 3,000 chars, ≤ 10 fields of ≤ 2,000, ≤ 50 blocks, about
 * 12,000 characters of block text in all (msg_blocks_too_long), button text
 * ≤ 75, value ≤ 2,000 (docs.slack.dev Block Kit reference; bolt-js#2509).
 */
export const LIMITS = {
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  blocks: 50,
  totalText: 11_000,
  /** Preformatted tail: well inside the section limit and the total budget. */
  codeText: 2800,
  fallbackText: 300,
  buttonText: 75,
} as const;

/**
 * Escapes text for mrkdwn. Escaping `&`, `<` and `>` is what stops output or
 * user input from becoming `<!channel>`, `<!here>` or `<@U…>` mentions.
 */
export function escapeMrkdwn(text: string): string {
  return showBidi(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const mrkdwn = (text: string) => ({ type: "mrkdwn", text });

export type SlackBlock = Record<string, unknown>;

function renderBlock(block: Block, index: number, budget: { left: number }, lang: Lang): SlackBlock | undefined {
  const take = (text: string, max: number) => {
    const cut = truncate(text, Math.max(0, Math.min(max, budget.left)));
    budget.left -= cut.length;
    return cut;
  };
  switch (block.type) {
    case "heading":
      return { type: "section", text: mrkdwn(take(`*${escapeMrkdwn(block.text)}*`, LIMITS.sectionText)) };
    case "text":
      return { type: "section", text: mrkdwn(take(escapeMrkdwn(block.text), LIMITS.sectionText)) };
    case "context":
      return { type: "context", elements: [mrkdwn(take(escapeMrkdwn(block.text), LIMITS.sectionText))] };
    case "fields":
      return {
        type: "section",
        fields: block.fields.slice(0, LIMITS.fields).map((f) => mrkdwn(take(`*${escapeMrkdwn(f.label)}*\n${escapeMrkdwn(f.value)}`, LIMITS.fieldText))),
      };
    case "links": {
      const text = block.links.map((l) => `<${l.url.replace(/[|>]/g, encodeURIComponent)}|${escapeMrkdwn(l.label)}>`).join("  ·  ");
      return { type: "section", text: mrkdwn(take(text, LIMITS.sectionText)) };
    }
    case "code": {
      const room = Math.min(LIMITS.codeText, budget.left - 100);
      if (room < 100) return undefined;
      const fitted = fitTail(block.lines.map(showBidi), room);
      const omitted = fitted.omitted + (block.omitted ?? 0);
      const text = omitted > 0 ? `${earlierLines(omitted, lang)}\n${fitted.text}` : fitted.text;
      budget.left -= text.length;
      // rich_text elements are literal text: nothing in them is parsed as a mention.
      return {
        type: "rich_text",
        block_id: `code-${index}`,
        elements: [{ type: "rich_text_preformatted", elements: [{ type: "text", text: text === "" ? " " : text }] }],
      };
    }
    case "actions":
      return {
        type: "actions",
        block_id: `actions-${index}`,
        elements: block.buttons.slice(0, 25).map((b, i) => ({
          type: "button",
          action_id: `testum-${index}-${i}`,
          text: { type: "plain_text", text: truncate(b.label, LIMITS.buttonText), emoji: true },
          value: b.action,
          ...(b.style ? { style: b.style } : {}),
        })),
      };
  }
}

/** Renders a view as `chat.postMessage` / `chat.update` arguments. */
export function renderView(view: View): { text: string; blocks: SlackBlock[] } {
  // Output keeps its own share of the total; the rest is shared by the other
  // blocks, so neither the status nor the tail can squeeze the other out.
  const hasCode = view.blocks.some((b) => b.type === "code");
  let reserved = hasCode ? LIMITS.codeText + 200 : 0;
  const budget = { left: LIMITS.totalText - reserved };
  const blocks: SlackBlock[] = [];
  const order = view.blocks.map((b, i) => ({ b, i })).sort((x, y) => Number(x.b.type === "code") - Number(y.b.type === "code"));
  const rendered = new Map<number, SlackBlock>();
  for (const { b, i } of order) {
    if (b.type === "code") {
      budget.left += reserved;
      reserved = 0;
    }
    const out = renderBlock(b, i, budget, view.lang ?? "en");
    if (out) rendered.set(i, out);
  }
  for (let i = 0; i < view.blocks.length && blocks.length < LIMITS.blocks; i++) {
    const out = rendered.get(i);
    if (out) blocks.push(out);
  }
  return { text: truncate(escapeMrkdwn(view.text), LIMITS.fallbackText), blocks };
}

/** Renders a private form as a Slack modal view. */
export function renderModal(form: Form): Record<string, unknown> {
  return {
    type: "modal",
    callback_id: form.action,
    title: { type: "plain_text", text: truncate(form.title, 24) },
    submit: { type: "plain_text", text: truncate(form.submitLabel ?? translate(form.lang ?? "en", "button.save"), 24) },
    close: { type: "plain_text", text: translate(form.lang ?? "en", "button.cancel") },
    blocks: form.fields.map((f) => ({
      type: "input",
      block_id: f.id,
      optional: f.required === false,
      label: { type: "plain_text", text: truncate(f.label, 2000) },
      element: {
        type: "plain_text_input",
        action_id: "value",
        multiline: f.multiline ?? false,
        // plain_text_input max_length is at most 3,000 (Block Kit reference).
        ...(f.maxLength ? { max_length: Math.min(f.maxLength, 3000) } : {}),
        ...(f.placeholder ? { placeholder: { type: "plain_text", text: truncate(f.placeholder, 150) } } : {}),
      },
    })),
  };
}
