import type { Redis } from "ioredis";
import type { RateBudget, RateRule } from "../../core/ports.js";

/**
 * A token bucket in Redis, so every testum process shares one budget per key
 * (e.g. one Slack workspace's chat.update allowance). The Lua script runs
 * atomically; it uses Redis's clock so processes on different machines agree.
 *
 * KEYS[1] bucket hash; ARGV: rate per second, burst, ttl seconds.
 * Returns 0 when a token was taken, else milliseconds until one is available.
 */
const TAKE = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'blocked')
local blocked = tonumber(state[3]) or 0
if blocked > ms then return blocked - ms end
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or ms
tokens = math.min(burst, tokens + (ms - at) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', ms)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return wait
`;

const BLOCK = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local until_ms = ms + tonumber(ARGV[1])
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked')) or 0
if until_ms > blocked then redis.call('HSET', KEYS[1], 'blocked', until_ms, 'tokens', '0', 'at', until_ms) end
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1]) / 1000) + 3600)
return 1
`;

export function createRedisBudget(redis: Redis, prefix = "testum:budget:"): RateBudget {
  return {
    async take(key: string, rule: RateRule): Promise<number> {
      const result = await redis.eval(TAKE, 1, prefix + key, rule.ratePerSecond, rule.burst, 3600);
      return Number(result);
    },
    async block(key: string, ms: number): Promise<void> {
      await redis.eval(BLOCK, 1, prefix + key, Math.ceil(ms));
    },
  };
}
