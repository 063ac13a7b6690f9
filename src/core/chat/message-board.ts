import type { ChatDirectory, View } from "./chat.js";
import { LiveMessage } from "./live.js";
import type { Logger } from "../ports.js";

/**
 * Updates of messages that are not streamed (approval requests, statuses):
 * each message gets one LiveMessage in this process, so the newest view
 * wins, rate limits are waited out, and the caller never waits.
 */
export class MessageBoard {
  private readonly messages = new Map<string, LiveMessage>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly chat: ChatDirectory,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => this.forgetSettled(), 60_000);
    this.timer.unref();
  }

  /** Shows `view` on the message as soon as the platform allows. */
  show(ref: string, view: View): void {
    let message = this.messages.get(ref);
    if (!message) {
      message = new LiveMessage(this.chat.adapterFor(ref), ref, { log: this.log });
      this.messages.set(ref, message);
    }
    message.update(view);
  }

  private forgetSettled(): void {
    for (const [ref, message] of this.messages) if (message.settled) this.messages.delete(ref);
  }

  close(): void {
    clearInterval(this.timer);
    for (const message of this.messages.values()) message.close();
    this.messages.clear();
  }
}
