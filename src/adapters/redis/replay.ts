import type { Redis } from "ioredis";
import type { ReplayGuard } from "../../core/ports.js";

/**
 * Platform event ids seen, in Redis, so every testum process refuses an
 * event that any of them already took: `SET key 1 NX PX ttl` succeeds for
 * the first only.
 */
export function createReplayGuard(redis: Redis, prefix: string): ReplayGuard {
  return {
    async firstTime(eventKey, ttlMs) {
      const set = await redis.set(`${prefix}:event:${eventKey}`, "1", "PX", ttlMs, "NX");
      return set === "OK";
    },
  };
}
