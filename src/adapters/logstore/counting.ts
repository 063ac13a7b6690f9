import { PassThrough } from "node:stream";

/**
 * The stream a log upload is written into. It counts the bytes as the store
 * consumes them, with no `data` listener of its own: a listener would switch
 * the stream to flowing mode at once, and whatever was written before the
 * store attached its reader (a directory still being made, an upload still
 * starting) would be counted and never stored.
 */
export function countingStream(highWaterMark?: number): { stream: PassThrough; bytes(): number } {
  let bytes = 0;
  const stream = new PassThrough({
    ...(highWaterMark ? { highWaterMark } : {}),
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  return { stream, bytes: () => bytes };
}
