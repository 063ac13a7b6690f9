import { createReadStream } from "node:fs";
import { type FileHandle, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { Writable } from "node:stream";
import type { LogStore, LogUpload } from "../../core/ports.js";

/**
 * Output gathered for one write to the file. A command's output arrives in
 * SSH packets of up to 32 KB; a write per packet costs more in hand-offs to
 * the thread that writes files than in the copy itself.
 */
const WRITE_BYTES = 256 * 1024;

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
      const file = new LogFile(pathOf(key));
      return { stream: file, done: file.done, abort: () => file.fail(new Error("the log upload was stopped")) };
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

/**
 * One log being written: to `<path>.partial`, WRITE_BYTES at a time, renamed
 * to `path` once ended. Whatever is written before the file is open waits in
 * the stream (with its backpressure). Once storing has failed or was given
 * up, `done` rejects, the partial file is removed and further output is
 * taken and dropped, so the command writing it never waits on a store that
 * will not take it.
 */
class LogFile extends Writable {
  readonly done: Promise<{ bytes: number }>;
  private readonly partial: string;
  private file: FileHandle | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private bytes = 0;
  private failed: Error | undefined;
  private settle!: { resolve(value: { bytes: number }): void; reject(err: Error): void };

  constructor(private readonly path: string) {
    super({ highWaterMark: WRITE_BYTES });
    this.partial = `${path}.partial`;
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => {});
  }

  /** Gives the log up (once): `done` rejects with `err`. */
  fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.pending = [];
    this.pendingBytes = 0;
    const file = this.file;
    this.file = undefined;
    this.settle.reject(err);
    void (async () => {
      await file?.close();
      await unlink(this.partial);
    })().catch(() => {});
  }

  override _construct(callback: (err?: Error | null) => void): void {
    // Logs hold whatever commands printed: readable by testum's user only.
    mkdir(dirname(this.path), { recursive: true, mode: 0o700 })
      .then(() => open(this.partial, "w", 0o600))
      .then(
        (file) => {
          if (!this.failed) this.file = file;
          // Given up while it was being opened: nothing of it is kept.
          else
            void file
              .close()
              .then(() => unlink(this.partial))
              .catch(() => {});
        },
        (err: Error) => this.fail(err),
      )
      .finally(() => callback());
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.take([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    this.take(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.failed) return callback();
    this.flush()
      .then(async () => {
        const file = this.file;
        this.file = undefined;
        await file?.close();
        if (this.failed) return;
        await rename(this.partial, this.path);
        this.settle.resolve({ bytes: this.bytes });
      })
      .catch((err: Error) => this.fail(err))
      .finally(() => callback());
  }

  private take(chunks: readonly Buffer[], callback: () => void): void {
    if (this.failed) return callback();
    for (const chunk of chunks) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
    }
    if (this.pendingBytes < WRITE_BYTES) return callback();
    this.flush()
      .catch((err: Error) => this.fail(err))
      .finally(callback);
  }

  /** Writes what is gathered, all of it (a write may take only part). */
  private async flush(): Promise<void> {
    let buffers = this.pending;
    let left = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    while (left > 0 && this.file) {
      const { bytesWritten } = await this.file.writev(buffers);
      this.bytes += bytesWritten;
      left -= bytesWritten;
      if (left > 0) buffers = unwritten(buffers, bytesWritten);
    }
  }
}

/** What remains of `buffers` once their first `written` bytes are gone. */
function unwritten(buffers: readonly Buffer[], written: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = written;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}
