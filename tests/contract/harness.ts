import { randomBytes } from "node:crypto";
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { createRedisBudget } from "../../src/adapters/redis/budget.js";
import { createReplayGuard } from "../../src/adapters/redis/replay.js";
import type { RateBudget, ReplayGuard } from "../../src/core/ports.js";

/** A budget (and the record of platform events seen) in the machine's Redis under a key prefix of its own. */
export function isolatedBudget(): { budget: RateBudget; replay: ReplayGuard; close(): void } {
  const redis = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
  const prefix = `testum-contract-${randomBytes(4).toString("hex")}`;
  return { budget: createRedisBudget(redis, `${prefix}:`), replay: createReplayGuard(redis, prefix), close: () => redis.disconnect() };
}

/** Serves one request listener on 127.0.0.1; returns its URL. */
export async function serve(listener: RequestListener): Promise<{ url: string; server: Server }> {
  const server = createServer(listener);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
