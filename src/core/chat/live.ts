import type { ChatAdapter, View } from "./chat.js";
import { RateLimitedError } from "../errors.js";
import { systemClock, type Clock, type Logger } from "../ports.js";

export interface LiveMessageOptions {
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Give up on delivering the final view after this long (default 10 min). */
  readonly finalDeadlineMs?: number;
  /** Give up after this many failures in a row that are not rate limits (default 6). */
  readonly maxFailures?: number;
}

/**
 * Keeps one chat message showing the newest view, without flooding the
 * platform: the newest content wins (frames in between are dropped, never
 * queued), at most one request is in flight, edits are spaced by the
 * adapter's minimum interval, and a rate limit postpones the next edit by
 * exactly as long as the platform asked.
 */
export class LiveMessage {
  private latest: View | undefined;
  private latestKey = "";
  private sentKey = "";
  private inFlight = false;
  private timer: NodeJS.Timeout | undefined;
  private nextAt = 0;
  private failures = 0;
  private finalKey: string | undefined;
  private finalStartedAt = 0;
  private settle: ((delivered: boolean) => void) | undefined;
  private closed = false;
  private readonly clock: Clock;

  constructor(
    private readonly chat: ChatAdapter,
    readonly ref: string,
    private readonly options: LiveMessageOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** Shows `view` as soon as the limits allow; replaces any view not yet sent. */
  update(view: View): void {
    if (this.finalKey !== undefined || this.closed) return;
    this.set(view);
    this.pump();
  }

  /**
   * Shows the final view, retrying through rate limits and errors. Resolves
   * true once it is on screen, false if it could not be delivered in time.
   */
  finish(view: View): Promise<boolean> {
    this.set(view);
    this.finalKey = this.latestKey;
    this.finalStartedAt = this.clock.now();
    // The final frame must not wait behind the spacing meant for live frames.
    this.nextAt = Math.min(this.nextAt, this.clock.now());
    this.failures = 0;
    const done = new Promise<boolean>((resolve) => (this.settle = resolve));
    this.pump();
    return done;
  }

  /** True when the newest view is on screen and nothing is pending. */
  get settled(): boolean {
    return !this.inFlight && this.timer === undefined && this.latestKey === this.sentKey;
  }

  /** Stops any pending edit. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.resolveFinal(false);
  }

  private set(view: View): void {
    this.latest = view;
    this.latestKey = JSON.stringify(view);
  }

  private pump(): void {
    if (this.closed || this.inFlight || this.timer) return;
    if (this.latest === undefined || this.latestKey === this.sentKey) {
      if (this.finalKey !== undefined && this.sentKey === this.finalKey) this.resolveFinal(true);
      return;
    }
    const wait = Math.max(0, this.nextAt - this.clock.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
    this.timer.unref?.();
  }

  private async flush(): Promise<void> {
    if (this.closed || this.latest === undefined) return;
    const view = this.latest;
    const key = this.latestKey;
    this.inFlight = true;
    try {
      await this.chat.edit(this.ref, view);
      this.sentKey = key;
      this.failures = 0;
      this.nextAt = this.clock.now() + this.chat.minEditIntervalMs;
    } catch (err) {
      if (err instanceof RateLimitedError) {
        this.nextAt = this.clock.now() + Math.max(this.chat.minEditIntervalMs, err.retryAfterMs);
      } else {
        this.failures += 1;
        this.nextAt = this.clock.now() + Math.min(30_000, 1000 * 2 ** this.failures);
        this.options.log?.warn({ err, message: this.ref, failures: this.failures }, "live message edit failed");
      }
    } finally {
      this.inFlight = false;
    }
    if (this.finalKey !== undefined && this.sentKey !== this.finalKey && this.gaveUp()) {
      this.resolveFinal(false);
      return;
    }
    if (this.finalKey === undefined && this.failures >= (this.options.maxFailures ?? 6)) {
      // The message is gone or refused for good: stop retrying this frame.
      this.options.log?.error({ message: this.ref }, "giving up on updating a chat message");
      this.sentKey = key;
      this.failures = 0;
    }
    this.pump();
  }

  private gaveUp(): boolean {
    const deadline = this.options.finalDeadlineMs ?? 600_000;
    return this.failures >= (this.options.maxFailures ?? 6) || this.clock.now() - this.finalStartedAt > deadline;
  }

  private resolveFinal(delivered: boolean): void {
    const settle = this.settle;
    this.settle = undefined;
    settle?.(delivered);
  }
}
