import type { LogUpload } from "../ports.js";

/** How long a log may still take to store after the job's deadline. */
export const LOG_GRACE_MS = 30_000;
/** How long a log may still take to store once its job was cancelled or timed out. */
export const LOG_AFTER_ABORT_MS = 10_000;

/** The log store did not finish in time; the upload was given up. */
export class LogStoreTimeoutError extends Error {
  constructor(readonly waitedMs: number) {
    super(`the log store did not finish storing within ${Math.round(waitedMs / 1000)} s, so the upload was stopped`);
    this.name = "LogStoreTimeoutError";
  }
}

/**
 * Waits for a log upload, never past `until` (epoch ms), and for at most
 * `afterAbortMs` once `signal` is aborted (cancel, time limit, shutdown).
 * An upload still running then is aborted and the wait fails with
 * LogStoreTimeoutError, so a log store that never answers cannot hold a job.
 */
export async function settleUpload(upload: LogUpload, limits: { until: number; signal?: AbortSignal | undefined; afterAbortMs?: number }): Promise<{ bytes: number }> {
  const afterAbort = limits.afterAbortMs ?? LOG_AFTER_ABORT_MS;
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const expired = new Promise<never>((_, reject) => {
    let until = limits.until;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => {
          upload.abort();
          reject(new LogStoreTimeoutError(Date.now() - started));
        },
        Math.max(0, until - Date.now()),
      );
    };
    onAbort = () => {
      until = Math.min(until, Date.now() + afterAbort);
      arm();
    };
    if (limits.signal?.aborted) onAbort();
    else {
      limits.signal?.addEventListener("abort", onAbort, { once: true });
      arm();
    }
  });
  expired.catch(() => {});
  try {
    return await Promise.race([upload.done, expired]);
  } finally {
    clearTimeout(timer);
    if (onAbort) limits.signal?.removeEventListener("abort", onAbort);
  }
}
