import type { LogStore } from "../../core/ports.js";
import { chatCalls, chatRateLimited, logBytesStored } from "./process.js";

/** Counts one request a chat platform's client makes, by platform and method (a few values per platform: never an id). */
export function countChatCall(platform: string, method: string): void {
  chatCalls.inc({ platform, method });
}

/** Counts one request the platform answered 429 (rate limited). */
export function countChatRateLimited(platform: string, method: string): void {
  chatRateLimited.inc({ platform, method });
}

/** The same log store, counting the bytes each stored object holds. */
export function countLogBytes<T extends LogStore>(store: T): T {
  return {
    ...store,
    open(key: string, contentType?: string) {
      const upload = store.open(key, contentType);
      void upload.done.then(
        ({ bytes }) => logBytesStored.inc(bytes),
        () => {},
      );
      return upload;
    },
  };
}
