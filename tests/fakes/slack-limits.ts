/**
 * Block Kit, message and modal limits as Slack enforces them. Limits are
 * documented on docs.slack.dev (block and element reference pages) unless
 * noted. Lengths are counted in UTF-16 code units (`String#length`), which is
 * never more lenient than Slack's own count.
 */
import type { SlackBlock } from './slack-types.js';

/** "You can include up to 50 blocks in each message" (Block Kit docs). */
export const MAX_BLOCKS_PER_MESSAGE = 50;
/** "up to 100 blocks in modals or Home tabs" (Block Kit docs). */
export const MAX_BLOCKS_PER_VIEW = 100;
/** Undocumented: `msg_blocks_too_long` near 12k chars of block text (slackapi/bolt-js#2509, #2867). */
export const MAX_CUMULATIVE_BLOCK_TEXT = 12_000;
/** Top-level `text` is truncated above 40,000 chars (api.slack.com changelog 2018-04). */
export const MAX_TEXT_TRUNCATE = 40_000;
/** `msg_too_long` for text-only messages above ~4,000 chars (Slack maintainer, seratch/ChatGPT-in-Slack#102). */
export const MAX_TEXT_WITHOUT_BLOCKS = 4_000;

/** Any text object: 3,000 chars (composition objects reference). */
const TEXT_OBJECT_MAX = 3_000;
const SECTION_TEXT_MAX = 3_000;
/** Section fields: at most 10, each ≤2,000 chars. */
const SECTION_FIELDS_MAX = 10;
const SECTION_FIELD_TEXT_MAX = 2_000;
const HEADER_TEXT_MAX = 150;
const CONTEXT_ELEMENTS_MAX = 10;
const ACTIONS_ELEMENTS_MAX = 25;
const ID_MAX = 255; // block_id, action_id, callback_id, external_id
const BUTTON_TEXT_MAX = 75;
const BUTTON_VALUE_MAX = 2_000;
const URL_MAX = 3_000;
const PLACEHOLDER_MAX = 150;
const OPTION_TEXT_MAX = 75;
const OPTION_VALUE_MAX = 150;
const OPTIONS_MAX = 100;
const INPUT_LABEL_MAX = 2_000;
const INPUT_MAX_LENGTH_MAX = 3_000;
const ALT_TEXT_MAX = 2_000;
/** Markdown block: 12,000 chars cumulative per payload. */
const MARKDOWN_BLOCK_MAX = 12_000;
/** Confirmation dialog parts. */
const CONFIRM_TITLE_MAX = 100;
const CONFIRM_TEXT_MAX = 300;
const CONFIRM_BUTTON_MAX = 30;
/** Modal view: title, submit and close ≤24 chars; private_metadata ≤3,000 (views reference). */
const VIEW_TITLE_MAX = 24;
const PRIVATE_METADATA_MAX = 3_000;

const RICH_TEXT_CONTAINERS = new Set(['rich_text_section', 'rich_text_list', 'rich_text_preformatted', 'rich_text_quote']);
const RICH_TEXT_LEAVES = new Set(['text', 'link', 'emoji', 'user', 'channel', 'usergroup', 'broadcast', 'date', 'color']);
/** Block types accepted without deep checks beyond block_id. */
const OTHER_BLOCK_TYPES = new Set(['file', 'video', 'table', 'context_actions']);

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Collects problems in Slack's wording: `<message> [json-pointer:/blocks/0/text/text]`. */
class BlockChecker {
  readonly problems: string[] = [];
  textTotal = 0;
  private readonly blockIds = new Set<string>();

  fail(message: string, pointer: string): void {
    this.problems.push(`${message} [json-pointer:${pointer}]`);
  }

  maxLength(value: unknown, max: number, pointer: string): void {
    if (value === undefined) return;
    if (typeof value !== 'string') this.fail('must be a string', pointer);
    else if (value.length > max) this.fail(`must be less than ${max + 1} characters`, pointer);
  }

  textObject(value: unknown, pointer: string, max: number, plainOnly = false): void {
    if (!isObject(value)) return this.fail('must be a text object', pointer);
    const allowed = plainOnly ? ['plain_text'] : ['plain_text', 'mrkdwn'];
    if (!allowed.includes(String(value.type))) {
      return this.fail(`must be one of: ${allowed.join(', ')}`, `${pointer}/type`);
    }
    const text = value.text;
    if (typeof text !== 'string') return this.fail('must be a string', `${pointer}/text`);
    if (text.length === 0) return this.fail('must be more than 0 characters', `${pointer}/text`);
    this.maxLength(text, Math.min(max, TEXT_OBJECT_MAX), `${pointer}/text`);
    this.textTotal += text.length;
  }

  optionalText(value: unknown, pointer: string, max: number, plainOnly = false): void {
    if (value !== undefined) this.textObject(value, pointer, max, plainOnly);
  }

  blocks(blocks: unknown[], pointer: string, maxBlocks: number): void {
    if (blocks.length > maxBlocks) {
      this.fail(`no more than ${maxBlocks} items allowed`, pointer);
      return;
    }
    blocks.forEach((block, i) => this.block(block, `${pointer}/${i}`));
  }

  private block(block: unknown, p: string): void {
    if (!isObject(block) || typeof block.type !== 'string') return this.fail('must be a block object', p);
    if (block.block_id !== undefined) {
      this.maxLength(block.block_id, ID_MAX, `${p}/block_id`);
      const id = String(block.block_id);
      if (this.blockIds.has(id)) this.fail('block_id must be unique within the payload', `${p}/block_id`);
      this.blockIds.add(id);
    }
    switch (block.type) {
      case 'section':
        return this.section(block, p);
      case 'header':
        return this.textObject(block.text, `${p}/text`, HEADER_TEXT_MAX, true);
      case 'divider':
        return;
      case 'context':
        return this.context(block, p);
      case 'actions':
        return this.elementList(block.elements, `${p}/elements`, ACTIONS_ELEMENTS_MAX);
      case 'image':
        return this.image(block, p);
      case 'rich_text':
        return this.richTextElements(block.elements, `${p}/elements`, true);
      case 'markdown':
        if (typeof block.text !== 'string') return this.fail('must be a string', `${p}/text`);
        this.maxLength(block.text, MARKDOWN_BLOCK_MAX, `${p}/text`);
        this.textTotal += block.text.length;
        return;
      case 'input':
        return this.input(block, p);
      default:
        if (!OTHER_BLOCK_TYPES.has(block.type)) this.fail(`unsupported type: ${block.type}`, `${p}/type`);
    }
  }

  private section(block: Json, p: string): void {
    if (block.text === undefined && block.fields === undefined) {
      this.fail('must provide either text or fields', p);
    }
    this.optionalText(block.text, `${p}/text`, SECTION_TEXT_MAX);
    if (block.fields !== undefined) {
      if (!Array.isArray(block.fields)) return this.fail('must be an array', `${p}/fields`);
      if (block.fields.length > SECTION_FIELDS_MAX) {
        this.fail(`no more than ${SECTION_FIELDS_MAX} items allowed`, `${p}/fields`);
      }
      block.fields.forEach((f, i) => this.textObject(f, `${p}/fields/${i}`, SECTION_FIELD_TEXT_MAX));
    }
    if (block.accessory !== undefined) this.element(block.accessory, `${p}/accessory`);
  }

  private context(block: Json, p: string): void {
    const elements = block.elements;
    if (!Array.isArray(elements) || elements.length === 0) return this.fail('must provide elements', `${p}/elements`);
    if (elements.length > CONTEXT_ELEMENTS_MAX) {
      return this.fail(`no more than ${CONTEXT_ELEMENTS_MAX} items allowed`, `${p}/elements`);
    }
    elements.forEach((el, i) => {
      if (isObject(el) && el.type === 'image') this.image(el, `${p}/elements/${i}`);
      else this.textObject(el, `${p}/elements/${i}`, TEXT_OBJECT_MAX);
    });
  }

  private image(block: Json, p: string): void {
    if (block.image_url === undefined && block.slack_file === undefined) {
      this.fail('must provide image_url or slack_file', p);
    }
    this.maxLength(block.image_url, URL_MAX, `${p}/image_url`);
    if (typeof block.alt_text !== 'string') this.fail('must provide alt_text', `${p}/alt_text`);
    this.maxLength(block.alt_text, ALT_TEXT_MAX, `${p}/alt_text`);
    this.optionalText(block.title, `${p}/title`, ALT_TEXT_MAX, true);
  }

  private input(block: Json, p: string): void {
    this.textObject(block.label, `${p}/label`, INPUT_LABEL_MAX, true);
    this.optionalText(block.hint, `${p}/hint`, INPUT_LABEL_MAX, true);
    if (block.element === undefined) return this.fail('must provide an element', `${p}/element`);
    this.element(block.element, `${p}/element`);
  }

  private elementList(elements: unknown, p: string, max: number): void {
    if (!Array.isArray(elements) || elements.length === 0) return this.fail('must provide elements', p);
    if (elements.length > max) return this.fail(`no more than ${max} items allowed`, p);
    const actionIds = new Set<string>();
    elements.forEach((el, i) => {
      this.element(el, `${p}/${i}`);
      // action_id "should be unique among all other action_ids in the containing block".
      if (isObject(el) && typeof el.action_id === 'string') {
        if (actionIds.has(el.action_id)) this.fail('action_id must be unique within the block', `${p}/${i}/action_id`);
        actionIds.add(el.action_id);
      }
    });
  }

  private element(el: unknown, p: string): void {
    if (!isObject(el) || typeof el.type !== 'string') return this.fail('must be an element object', p);
    this.maxLength(el.action_id, ID_MAX, `${p}/action_id`);
    this.optionalText(el.placeholder, `${p}/placeholder`, PLACEHOLDER_MAX, true);
    if (el.confirm !== undefined) this.confirm(el.confirm, `${p}/confirm`);
    switch (el.type) {
      case 'button':
        this.textObject(el.text, `${p}/text`, BUTTON_TEXT_MAX, true);
        this.maxLength(el.value, BUTTON_VALUE_MAX, `${p}/value`);
        this.maxLength(el.url, URL_MAX, `${p}/url`);
        if (el.style !== undefined && el.style !== 'primary' && el.style !== 'danger') {
          this.fail('must be one of: primary, danger', `${p}/style`);
        }
        return;
      case 'plain_text_input':
        if (typeof el.max_length === 'number' && el.max_length > INPUT_MAX_LENGTH_MAX) {
          this.fail(`must be at most ${INPUT_MAX_LENGTH_MAX}`, `${p}/max_length`);
        }
        this.maxLength(el.initial_value, INPUT_MAX_LENGTH_MAX, `${p}/initial_value`);
        return;
      case 'image':
        return this.image(el, p);
      default:
        if (el.options !== undefined) this.options(el.options, `${p}/options`);
    }
  }

  private options(options: unknown, p: string): void {
    if (!Array.isArray(options)) return this.fail('must be an array', p);
    if (options.length > OPTIONS_MAX) return this.fail(`no more than ${OPTIONS_MAX} items allowed`, p);
    options.forEach((o, i) => {
      if (!isObject(o)) return this.fail('must be an option object', `${p}/${i}`);
      this.textObject(o.text, `${p}/${i}/text`, OPTION_TEXT_MAX);
      this.maxLength(o.value, OPTION_VALUE_MAX, `${p}/${i}/value`);
    });
  }

  private confirm(c: unknown, p: string): void {
    if (!isObject(c)) return this.fail('must be a confirmation object', p);
    this.textObject(c.title, `${p}/title`, CONFIRM_TITLE_MAX, true);
    this.textObject(c.text, `${p}/text`, CONFIRM_TEXT_MAX);
    this.textObject(c.confirm, `${p}/confirm`, CONFIRM_BUTTON_MAX, true);
    this.textObject(c.deny, `${p}/deny`, CONFIRM_BUTTON_MAX, true);
  }

  private richTextElements(elements: unknown, p: string, containersOnly: boolean): void {
    if (!Array.isArray(elements)) return this.fail('must provide elements', p);
    elements.forEach((el, i) => {
      const ep = `${p}/${i}`;
      if (!isObject(el) || typeof el.type !== 'string') return this.fail('must be a rich text element', ep);
      if (RICH_TEXT_CONTAINERS.has(el.type)) return this.richTextElements(el.elements, `${ep}/elements`, false);
      if (containersOnly || !RICH_TEXT_LEAVES.has(el.type)) {
        return this.fail(`unsupported type: ${el.type}`, `${ep}/type`);
      }
      if (el.type === 'text' && typeof el.text !== 'string') return this.fail('must be a string', `${ep}/text`);
      if (typeof el.text === 'string') this.textTotal += el.text.length;
    });
  }
}

export type ContentCheck = { ok: true; text: string; warning?: 'message_truncated' } | { ok: false; error: string; messages?: string[] };

/**
 * Checks a message body as chat.postMessage, chat.update, chat.postEphemeral
 * and response_url do. `blocks` are the blocks the message would end up with.
 */
export function checkMessageContent(input: { text: string | undefined; blocks: SlackBlock[] | undefined; attachments?: unknown[] | undefined }): ContentCheck {
  const text = input.text ?? '';
  const blocks = input.blocks ?? [];
  const attachments = input.attachments ?? [];
  if (text === '' && blocks.length === 0 && attachments.length === 0) return { ok: false, error: 'no_text' };

  if (blocks.length > 0) {
    const checker = new BlockChecker();
    checker.blocks(blocks, '/blocks', MAX_BLOCKS_PER_MESSAGE);
    if (checker.problems.length > 0) return { ok: false, error: 'invalid_blocks', messages: checker.problems };
    if (checker.textTotal > MAX_CUMULATIVE_BLOCK_TEXT) return { ok: false, error: 'msg_blocks_too_long' };
  }
  if (blocks.length === 0 && attachments.length === 0 && text.length > MAX_TEXT_WITHOUT_BLOCKS) {
    return { ok: false, error: 'msg_too_long' };
  }
  if (text.length > MAX_TEXT_TRUNCATE) {
    return { ok: true, text: text.slice(0, MAX_TEXT_TRUNCATE), warning: 'message_truncated' };
  }
  return { ok: true, text };
}

/** Checks a modal view for views.open / views.update; Slack answers `invalid_arguments`. */
export function checkView(view: unknown): string[] {
  const checker = new BlockChecker();
  if (!isObject(view)) {
    checker.fail('must be an object', '/view');
    return checker.problems;
  }
  if (view.type !== 'modal') checker.fail('must be one of: modal', '/view/type');
  checker.textObject(view.title, '/view/title', VIEW_TITLE_MAX, true);
  checker.optionalText(view.submit, '/view/submit', VIEW_TITLE_MAX, true);
  checker.optionalText(view.close, '/view/close', VIEW_TITLE_MAX, true);
  checker.maxLength(view.private_metadata, PRIVATE_METADATA_MAX, '/view/private_metadata');
  checker.maxLength(view.callback_id, ID_MAX, '/view/callback_id');
  checker.maxLength(view.external_id, ID_MAX, '/view/external_id');
  if (!Array.isArray(view.blocks)) {
    checker.fail('must provide blocks', '/view/blocks');
    return checker.problems;
  }
  checker.blocks(view.blocks, '/view/blocks', MAX_BLOCKS_PER_VIEW);
  const hasInput = view.blocks.some((b) => isObject(b) && b.type === 'input');
  if (hasInput && view.submit === undefined) {
    checker.fail('must provide submit when the view has input blocks', '/view/submit');
  }
  return checker.problems;
}
