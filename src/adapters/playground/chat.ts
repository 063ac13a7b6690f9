import type { ChatAdapter, View } from "../../core/chat/chat.js";
import { fitTail } from "../../core/jobs/tail.js";
import { messageId, messageRef, type PlaygroundStore } from "./store.js";

/** Output shown in a playground message: the end that fits, like on a chat platform. */
export const MAX_CODE_CHARS = 8000;

/** A view as the playground stores it: long output cut to its tail. */
export function bounded(view: View): View {
  return {
    ...view,
    blocks: view.blocks.map((block) => {
      if (block.type !== "code") return block;
      const fitted = fitTail(block.lines, MAX_CODE_CHARS);
      return { type: "code", lines: fitted.text.split("\n"), omitted: (block.omitted ?? 0) + fitted.omitted };
    }),
  };
}

/**
 * The playground's side of the chat contract: messages and threads kept by
 * testum itself. No platform limits apply, so edits only need to be spaced
 * enough to stay readable.
 */
export function createPlaygroundChat(store: PlaygroundStore): ChatAdapter {
  return {
    platform: "local",
    minEditIntervalMs: 300,
    async startThread(_conversation, view) {
      const message = await store.post(bounded(view));
      const ref = messageRef(message.id);
      return { message: ref, thread: ref };
    },
    async post(thread, view) {
      return messageRef((await store.post(bounded(view), { thread: messageId(thread) })).id);
    },
    async edit(message, view) {
      await store.edit(messageId(message), bounded(view));
    },
  };
}
