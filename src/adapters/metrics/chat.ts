import type { REST } from "@discordjs/rest";
import type { LogStore } from "../../core/ports.js";
import { chatCalls, chatRateLimited, logBytesStored } from "./process.js";

/** A fetch for Slack's Web API client that counts every request by method (`chat.postMessage` …), and the 429s. */
export const countingSlackFetch: typeof fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : input);
  const method = url.pathname.slice(url.pathname.lastIndexOf("/") + 1) || "unknown";
  chatCalls.inc({ platform: "slack", method });
  const res = await fetch(input, init);
  if (res.status === 429) chatRateLimited.inc({ platform: "slack", method });
  return res;
};

/** Counts every HTTP request the REST client makes, and the ones Discord answered 429. */
export function countDiscordCalls(rest: REST): void {
  rest.on("response", (request, response) => {
    // Ids (snowflakes) out of the route, so the label has a few values, not one per channel.
    const method = `${request.method.toUpperCase()} ${request.route.replace(/\d{15,}/g, ":id")}`;
    chatCalls.inc({ platform: "discord", method });
    if (response.status === 429) chatRateLimited.inc({ platform: "discord", method });
  });
}

/** The same log store, counting the bytes each stored object holds. */
export function countLogBytes<T extends LogStore>(store: T): T {
  return {
    ...store,
    open(key: string, contentType?: string) {
      const upload = store.open(key, contentType);
      void upload.done.then(({ bytes }) => logBytesStored.inc(bytes), () => {});
      return upload;
    },
  };
}
