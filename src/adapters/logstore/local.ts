import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, stat } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import type { LogStore, LogUpload } from "../../core/ports.js";
import { countingStream } from "./counting.js";

/** Output held for the file at most (twice: before and in the file's write), per log. */
const LOG_BUFFER_BYTES = 256 * 1024;

/**
 * Logs in a local directory, for a laptop or a single machine. Objects are
 * written to a temporary name and renamed when complete, so a reader never
 * sees half a log under the final name.
 */
export function createLocalLogStore(root: string): LogStore {
  const base = resolve(root);
  const pathOf = (key: string) => {
    const path = resolve(base, key);
    if (!path.startsWith(base + sep)) throw new Error(`log key escapes the log directory: ${key}`);
    return path;
  };
  return {
    kind: `local directory ${base}`,
    open(key): LogUpload {
      const path = pathOf(key);
      const partial = `${path}.partial`;
      // Writes of a few hundred KB at once: a command's output arrives in SSH packets of up to
      // 32 KB, and a buffer that holds only one would stop the command at every packet.
      const { stream, bytes } = countingStream(LOG_BUFFER_BYTES);
      const done = (async () => {
        // Logs hold whatever commands printed: readable by testum's user only.
        await mkdir(dirname(path), { recursive: true, mode: 0o700 });
        await pipeline(stream, createWriteStream(partial, { mode: 0o600, highWaterMark: LOG_BUFFER_BYTES }));
        await rename(partial, path);
        return { bytes: bytes() };
      })();
      done.catch(() => stream.resume());
      return { stream, done, abort: () => void stream.destroy(new Error("the log upload was stopped")) };
    },
    async locate(key) {
      return this.read(key);
    },
    async read(key) {
      const path = pathOf(key);
      const info = await stat(path).catch(() => undefined);
      if (!info) return undefined;
      return { stream: createReadStream(path), bytes: info.size };
    },
    async check() {
      await mkdir(base, { recursive: true, mode: 0o700 });
      await stat(join(base));
    },
  };
}
