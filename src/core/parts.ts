import { within } from "./concurrency.js";
import type { Logger } from "./ports.js";

/**
 * One piece of a running testum (the database, the worker, a chat platform's
 * socket …) that starts itself and stops itself. Parts start in the order
 * they are listed and stop in the reverse order, each within its own bound,
 * so a stop always ends whatever the outside world is doing.
 */
export interface Part<C> {
  readonly name: string;
  /** Starts the part; what it returns stops it again. Parts that hold nothing return nothing. */
  start(ctx: C): Promise<Started | void> | Started | void;
}

/** A started part. */
export interface Started {
  stop(): Promise<void> | void;
  /** The longest its stop may take (default STOP_STEP_MS). */
  readonly stopWithinMs?: number;
}

/** Longest any one part may take to stop, unless it says otherwise. */
export const STOP_STEP_MS = 10_000;

/**
 * Starts `parts` in order. If one fails to start, the ones already started
 * are stopped (in reverse order, bounded) and the failure is thrown. The
 * result stops every started part in reverse order, each within its bound.
 */
export async function startParts<C>(parts: readonly Part<C>[], ctx: C, log: Logger): Promise<Started> {
  const started: Array<{ name: string; part: Started }> = [];
  const stop = async () => {
    for (const { name, part } of started.splice(0).reverse()) {
      const ms = part.stopWithinMs ?? STOP_STEP_MS;
      const done = await within(
        Promise.resolve()
          .then(() => part.stop())
          .then(() => true),
        ms,
        false,
      );
      if (!done) log.warn({ part: name, ms }, `${name} did not stop within ${Math.round(ms / 1000)} s (or failed to); going on`);
    }
  };
  for (const part of parts) {
    try {
      const result = await part.start(ctx);
      if (result) started.push({ name: part.name, part: result });
    } catch (err) {
      await stop();
      throw err;
    }
  }
  return { stop };
}
