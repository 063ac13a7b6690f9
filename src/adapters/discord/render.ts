import {
  ButtonStyle,
  ComponentType,
  TextInputStyle,
  type APIActionRowComponent,
  type APIButtonComponentWithCustomId,
  type APIEmbed,
  type APIEmbedField,
  type APIModalInteractionResponseCallbackData,
} from "discord-api-types/v10";
import type { Block, Button, Form, Tone, View } from "../../core/chat/chat.js";
import { breakBackticks, fitTail, showBidi, truncate } from "../../core/jobs/tail.js";
import type { Lang } from "../../core/chat/i18n.js";
import { earlierLines } from "../../core/chat/replies.js";

/**
 * Core views → Discord messages, within Discord's limits (resources/message.mdx,
 * components/reference.mdx): content ≤ 2,000 characters; an embed's title ≤ 256,
 * description ≤ 4,096, ≤ 25 fields with name ≤ 256 and value ≤ 1,024, footer
 * ≤ 2,048, and ≤ 6,000 characters of embed text in all; ≤ 5 action rows of
 * ≤ 5 buttons, custom_id 1–100, label ≤ 80; modal title ≤ 45, ≤ 5 text inputs
 * whose label is ≤ 45, placeholder ≤ 100 and max_length ≤ 4,000.
 *
 * Output goes in `content` as a fenced code block (the one place that can
 * hold ~1,900 characters of tail); everything else goes in one embed.
 */
export const LIMITS = {
  content: 2000,
  /** Tail of preformatted output, leaving room for the fence (chat-platforms.md §3.2). */
  codeTail: 1900,
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  embedTotal: 6000,
  /** A further code block inside the embed description. */
  embedCode: 1000,
  buttonLabel: 80,
  buttonsPerRow: 5,
  rows: 5,
  customId: 100,
  modalTitle: 45,
  modalInputs: 5,
  inputLabel: 45,
  placeholder: 100,
  inputMaxLength: 4000,
} as const;

/** Embed colours by tone (Discord's brand palette). */
const COLOUR: Record<Tone, number> = {
  neutral: 0x99aab5,
  progress: 0x5865f2,
  success: 0x57f287,
  failure: 0xed4245,
  warning: 0xfee75c,
};

export interface DiscordMessage {
  content: string;
  embeds: APIEmbed[];
  components: Array<APIActionRowComponent<APIButtonComponentWithCustomId>>;
  /** `parse: []` on every message: nothing in it may ping anyone (chat-platforms.md §3.2). */
  allowed_mentions: { parse: never[] };
}

/**
 * Escapes plain text for Discord markdown: inline markers, `[` and `]` (so no
 * masked link can form), line-start markers (headings, quotes, lists), `<…>`
 * (mentions, channels, timestamps) and @everyone/@here, which would otherwise
 * render as a mention.
 */
export function escapeMarkdown(text: string): string {
  return showBidi(text)
    .replace(/[\\*_~`|[\]<]/g, "\\$&")
    .replace(/^(\s*)([#>-])/gm, "$1\\$2")
    .replace(/^(\s*\d+)\./gm, "$1\\.")
    .replace(/@(everyone|here)/g, "@\u200b$1");
}

/** A fenced code block of the last lines that fit in `room` characters. */
function fence(block: Extract<Block, { type: "code" }>, room: number, lang: Lang): string {
  const earlier = (n: number) => `${earlierLines(n, lang)}\n`;
  // The note is counted at its longest so the block never outgrows `room`.
  const reserve = 8 + earlier(block.lines.length + (block.omitted ?? 0)).length;
  // Every line, whatever produced it, is kept inside the fence: no backtick run can end it early.
  const fitted = fitTail(
    block.lines.map((l) => breakBackticks(showBidi(l))),
    Math.max(1, room - reserve),
  );
  const omitted = fitted.omitted + (block.omitted ?? 0);
  const body = (omitted > 0 ? earlier(omitted) : "") + (fitted.text === "" ? " " : fitted.text);
  return "```\n" + body + "\n```";
}

function linkLine(links: Extract<Block, { type: "links" }>["links"]): string {
  // Masked links end at the first ")", so it and spaces are percent-encoded.
  return links.map((l) => `[${escapeMarkdown(l.label)}](${l.url.replace(/\(/g, "%28").replace(/\)/g, "%29").replace(/\s/g, encodeURIComponent)})`).join("  ·  ");
}

function buttonRows(buttons: readonly Button[]): DiscordMessage["components"] {
  const seen = new Set<string>();
  const usable = buttons.filter((b) => {
    if (b.action.length < 1 || b.action.length > LIMITS.customId) {
      throw new Error(`button action "${b.action.slice(0, 40)}…" does not fit Discord's 100-character custom_id`);
    }
    // custom_id must be unique within a message.
    if (seen.has(b.action)) return false;
    seen.add(b.action);
    return true;
  });
  const rows: DiscordMessage["components"] = [];
  for (let i = 0; i < usable.length && rows.length < LIMITS.rows; i += LIMITS.buttonsPerRow) {
    rows.push({
      type: ComponentType.ActionRow,
      components: usable.slice(i, i + LIMITS.buttonsPerRow).map((b) => ({
        type: ComponentType.Button,
        custom_id: b.action,
        label: truncate(b.label, LIMITS.buttonLabel),
        style: b.style === "primary" ? ButtonStyle.Primary : b.style === "danger" ? ButtonStyle.Danger : ButtonStyle.Secondary,
      })),
    });
  }
  return rows;
}

/** Renders a view as a message body for create, edit and interaction responses. */
export function renderMessage(view: View): DiscordMessage {
  let content = "";
  let title: string | undefined;
  const description: string[] = [];
  const fields: APIEmbedField[] = [];
  const footer: string[] = [];
  const buttons: Button[] = [];

  for (const block of view.blocks) {
    switch (block.type) {
      case "heading":
        if (title === undefined) title = escapeMarkdown(block.text);
        else description.push(`**${escapeMarkdown(block.text)}**`);
        break;
      case "text":
        description.push(escapeMarkdown(block.text));
        break;
      case "fields":
        for (const f of block.fields) {
          fields.push({
            name: truncate(escapeMarkdown(f.label), LIMITS.fieldName) || "\u200b",
            value: truncate(escapeMarkdown(f.value), LIMITS.fieldValue) || "\u200b",
            inline: f.value.length <= 40 && !f.value.includes("\n"),
          });
        }
        break;
      case "code":
        if (content === "") content = fence(block, LIMITS.codeTail + 8, view.lang ?? "en");
        else description.push(fence(block, LIMITS.embedCode, view.lang ?? "en"));
        break;
      case "links":
        if (block.links.length > 0) description.push(linkLine(block.links));
        break;
      // Footers show text as it is: no markdown, no mentions.
      case "context":
        footer.push(block.text);
        break;
      case "actions":
        buttons.push(...block.buttons);
        break;
    }
  }

  // Spend the 6,000 shared characters on the title, footer and fields first;
  // the description, usually the longest, gets what is left.
  let left = LIMITS.embedTotal;
  const take = (text: string, max: number) => {
    const room = Math.min(max, left);
    if (room <= 0) return "";
    const cut = truncate(text, room);
    left -= cut.length;
    return cut;
  };
  const embed: APIEmbed = { color: COLOUR[view.tone ?? "neutral"] };
  if (title !== undefined) embed.title = take(title, LIMITS.embedTitle);
  if (footer.length > 0) embed.footer = { text: take(footer.join("\n"), LIMITS.footer) };
  const kept: APIEmbedField[] = [];
  for (const f of fields.slice(0, LIMITS.embedFields)) {
    // A field needs a name and a value of at least one character each.
    if (left < f.name.length + 1) break;
    const name = take(f.name, LIMITS.fieldName);
    kept.push({ ...f, name, value: take(f.value, LIMITS.fieldValue) || "\u200b" });
  }
  if (kept.length > 0) embed.fields = kept;
  const text = take(description.join("\n\n"), LIMITS.embedDescription);
  if (text !== "") embed.description = text;
  if (!embed.description && !embed.title && !embed.fields && !embed.footer && content === "") {
    // A message needs something to show; the summary line is the fallback.
    embed.description = take(escapeMarkdown(view.text || " "), LIMITS.embedDescription);
  }
  const hasEmbed = embed.title !== undefined || embed.description !== undefined || embed.fields !== undefined || embed.footer !== undefined;
  return { content, embeds: hasEmbed ? [embed] : [], components: buttonRows(buttons), allowed_mentions: { parse: [] } };
}

/** Renders a private form as a modal (interaction callback type 9). */
export function renderModal(form: Form): APIModalInteractionResponseCallbackData {
  if (form.action.length < 1 || form.action.length > LIMITS.customId) {
    throw new Error("form action does not fit Discord's 100-character custom_id");
  }
  return {
    custom_id: form.action,
    title: truncate(form.title, LIMITS.modalTitle) || "testum",
    components: form.fields.slice(0, LIMITS.modalInputs).map((f) => ({
      type: ComponentType.ActionRow,
      components: [
        {
          type: ComponentType.TextInput,
          custom_id: f.id,
          label: truncate(f.label, LIMITS.inputLabel),
          style: f.multiline ? TextInputStyle.Paragraph : TextInputStyle.Short,
          required: f.required !== false,
          ...(f.placeholder ? { placeholder: truncate(f.placeholder, LIMITS.placeholder) } : {}),
          ...(f.maxLength ? { max_length: Math.min(f.maxLength, LIMITS.inputMaxLength) } : {}),
        },
      ],
    })),
  };
}
