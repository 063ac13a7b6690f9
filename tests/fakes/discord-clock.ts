/**
 * Clock and snowflake source for the fake Discord REST API.
 *
 * Snowflakes follow Discord's layout (reference/snowflakes): bits 63–22 are
 * milliseconds since the Discord epoch 2015-01-01T00:00:00Z (1420070400000),
 * bits 21–12 worker/process ids (0 here), bits 11–0 a per-process increment.
 * @discordjs/rest only treats path segments of 17–19 digits as ids
 * (`REST.generateRouteData`), so ids must have that length or every request
 * collapses into one "global" major parameter.
 */

export const DISCORD_EPOCH_MS = 1_420_070_400_000;

export interface FakeClock {
  /** Current fake time, ms since the Unix epoch. */
  now(): number;
  /** Move the fake clock forward; rate-limit windows, interaction deadlines and thread auto-archive follow it. */
  advance(ms: number): void;
}

export interface ClockOptions {
  /** Fake time at start-up (ms since the Unix epoch). Default: the real time. */
  startTime?: number;
  /**
   * Frozen clocks only move with `advance()`. Default false: the fake clock
   * runs with real time plus whatever was advanced, which @discordjs/rest
   * needs because it sleeps in real time before retrying a 429.
   */
  frozen?: boolean;
}

export function createClock(options: ClockOptions = {}): FakeClock {
  const realStart = Date.now();
  const start = options.startTime ?? realStart;
  let advanced = 0;
  return {
    now: () => start + advanced + (options.frozen ? 0 : Date.now() - realStart),
    advance(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(ms) needs a finite ms >= 0, got ${ms}`);
      advanced += ms;
    },
  };
}

export interface SnowflakeSource {
  next(): string;
}

/** Ids below 10^17 would not be recognised by @discordjs/rest's `\d{17,19}` route parsing. */
const MIN_SNOWFLAKE = 10n ** 17n;

export function createSnowflakes(clock: FakeClock): SnowflakeSource {
  let increment = 0n;
  let last = 0n;
  return {
    next() {
      const ms = BigInt(Math.floor(clock.now()) - DISCORD_EPOCH_MS);
      let id = (ms << 22n) | (increment & 0xfffn);
      increment += 1n;
      // Keep ids unique and increasing even if the 12-bit increment wraps within one millisecond.
      if (id <= last) id = last + 1n;
      last = id;
      if (id < MIN_SNOWFLAKE) {
        throw new RangeError(`fake clock ${new Date(clock.now()).toISOString()} is too early for 17–19 digit snowflakes`);
      }
      return id.toString();
    },
  };
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}
