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
  /**
   * Called on every started part as soon as the stop begins, before any part
   * is stopped: a part whose stop takes time of its own (the worker's grace
   * period for running commands) starts it here, so it does not wait for the
   * parts stopped before it. Must not throw or block.
   */
  beginStop?(): void;
  stop(): Promise<void> | void;
  /** The longest its stop may take (default STOP_STEP_MS). */
  readonly stopWithinMs?: number;
}

/** Longest any one part may take to stop, unless it says otherwise. */
export const STOP_STEP_MS = 10_000;

/** What a part still gets once the whole stop's budget is spent: a moment to let go of its connections. */
const LAST_SLICE_MS = 1000;

interface StopBudget {
  /** The longest the whole stop may take; each part gets its own bound or what is left of this, whichever is less (but at least LAST_SLICE_MS). */
  readonly totalMs?: number;
}

/**
 * Starts `parts` in order. If one fails to start, the ones already started
 * are stopped (in reverse order, bounded) and the failure is thrown. The
 * result stops every started part in reverse order, each within its bound
 * and all of them within the budget's total, so when everything outside
 * hangs at once the stop still ends in about the total.
 */
export async function startParts<C>(parts: readonly Part<C>[], ctx: C, log: Logger, budget: StopBudget = {}): Promise<Started> {
  const started: Array<{ name: string; part: Started }> = [];
  const stop = async () => {
    const began = Date.now();
    const deadline = budget.totalMs === undefined ? Number.POSITIVE_INFINITY : began + budget.totalMs;
    const slow: string[] = [];
    const parts = started.splice(0).reverse();
    for (const { name, part } of parts) {
      try {
        part.beginStop?.();
      } catch (err) {
        log.warn({ part: name, err }, `${name} could not begin to stop; it is stopped in its turn`);
      }
    }
    for (const { name, part } of parts) {
      const partBegan = Date.now();
      const ms = Math.min(part.stopWithinMs ?? STOP_STEP_MS, Math.max(LAST_SLICE_MS, deadline - Date.now()));
      const done = await within(
        Promise.resolve()
          .then(() => part.stop())
          .then(() => true),
        ms,
        false,
      );
      if (!done) log.warn({ part: name, ms }, `${name} did not stop within ${Math.round(ms / 1000)} s (or failed to); going on`);
      const took = Date.now() - partBegan;
      if (took >= 500) slow.push(`${name} ${(took / 1000).toFixed(1)} s`);
    }
    const tookAll = Date.now() - began;
    if (parts.length > 0) log.info({ ms: tookAll }, `stopped in ${(tookAll / 1000).toFixed(1)} s${slow.length > 0 ? ` (${slow.join(", ")})` : ""}`);
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
