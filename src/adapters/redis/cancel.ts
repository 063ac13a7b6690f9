import type { Redis } from "ioredis";
import type { CancelBus } from "../../core/ports.js";

/** Cancel requests over Redis pub/sub, so the worker running a job hears at once. */
export function createCancelBus(redis: Redis, prefix: string): CancelBus {
  const channel = `${prefix}:cancel`;
  return {
    async publish(jobId) {
      await redis.publish(channel, String(jobId));
    },
    async subscribe(onCancel) {
      // A subscribed connection can do nothing else: it gets its own.
      // It waits for messages as long as it lives: no command timeout.
      const subscriber = redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, lazyConnect: false, commandTimeout: undefined });
      subscriber.on("error", () => {});
      subscriber.on("message", (_channel: string, message: string) => {
        const jobId = Number(message);
        if (Number.isSafeInteger(jobId)) onCancel(jobId);
      });
      await subscriber.subscribe(channel);
      return async () => {
        await subscriber.unsubscribe(channel).catch(() => {});
        subscriber.disconnect();
      };
    },
  };
}
