import { once } from "node:events";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalLogStore } from "../src/adapters/logstore/local.js";
import { createS3LogStore } from "../src/adapters/logstore/s3.js";
import type { LogStore } from "../src/core/ports.js";
import { startS3, type TestS3 } from "./helpers/s3.js";

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

async function readBack(store: LogStore, key: string): Promise<string> {
  const found = await store.read(key);
  if (!found) throw new Error(`${key} was not stored`);
  return text(found.stream);
}

let dir: string;
let s3: TestS3;
let s3Store: ReturnType<typeof createS3LogStore>;
const stores: Array<[string, () => LogStore]> = [
  ["local directory", () => createLocalLogStore(dir)],
  ["S3", () => s3Store],
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "testum-logstore-"));
  s3 = await startS3();
  s3Store = createS3LogStore(s3);
});
afterAll(async () => {
  s3Store?.close();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

describe.each(stores)("log store: %s", (_name, store) => {
  it("stores what is written in the same tick as open() and ended at once", async () => {
    const upload = store().open("jobs/1/report.txt");
    upload.stream.end("Job #1 report\n");
    expect(await upload.done).toEqual({ bytes: 14 });
    expect(await readBack(store(), "jobs/1/report.txt")).toBe("Job #1 report\n");
  });

  it("stores every write made before the store is ready, then later ones, in order", async () => {
    const upload = store().open("jobs/2/web-1.log");
    upload.stream.write("first line\n");
    upload.stream.write("second line\n");
    await new Promise((r) => setTimeout(r, 30));
    upload.stream.end("third line\n");
    expect(await upload.done).toEqual({ bytes: 34 });
    expect(await readBack(store(), "jobs/2/web-1.log")).toBe("first line\nsecond line\nthird line\n");
  });

  it("stores a large first write whole (more than the stream buffers before it is read)", async () => {
    const big = "x".repeat(99) + "\n";
    const body = big.repeat(5_000);
    const upload = store().open("jobs/3/web-1.log");
    upload.stream.end(body);
    expect(await upload.done).toEqual({ bytes: body.length });
    expect(await readBack(store(), "jobs/3/web-1.log")).toBe(body);
  });
});

it("the local store writes the file itself, not only a count", async () => {
  const upload = createLocalLogStore(dir).open("jobs/4/report.txt");
  upload.stream.end("whole\n");
  await upload.done;
  expect(await readFile(join(dir, "jobs/4/report.txt"), "utf8")).toBe("whole\n");
});

it("the local store writes a large log whole, in order, whatever the sizes of the writes", async () => {
  const upload = createLocalLogStore(dir).open("jobs/5/web-1.log");
  const parts: Buffer[] = [];
  for (let i = 0; i < 400; i++) parts.push(Buffer.from(`${i}:`.padEnd(1 + ((i * 7919) % 40_000), String.fromCharCode(97 + (i % 26))) + "\n"));
  for (const part of parts) if (!upload.stream.write(part)) await once(upload.stream, "drain");
  upload.stream.end();
  const expected = Buffer.concat(parts);
  expect(await upload.done).toEqual({ bytes: expected.length });
  expect((await readFile(join(dir, "jobs/5/web-1.log"))).equals(expected)).toBe(true);
  await expect(stat(join(dir, "jobs/5/web-1.log.partial"))).rejects.toThrow(/ENOENT/);
});

it("a local log that cannot be written, or is given up, rejects, keeps no partial file and never holds the writer up", async () => {
  // The key's directory is taken by a file: the log cannot be opened.
  await writeFile(join(dir, "blocked"), "not a directory\n");
  const blocked = createLocalLogStore(dir).open("blocked/6/web-1.log");
  const chunk = Buffer.alloc(64 * 1024, 120);
  for (let i = 0; i < 64; i++) if (!blocked.stream.write(chunk)) await once(blocked.stream, "drain");
  blocked.stream.end();
  await expect(blocked.done).rejects.toThrow(/ENOTDIR|EEXIST/);

  const given = createLocalLogStore(dir).open("jobs/7/web-1.log");
  for (let i = 0; i < 16; i++) if (!given.stream.write(chunk)) await once(given.stream, "drain");
  given.abort();
  for (let i = 0; i < 64; i++) if (!given.stream.write(chunk)) await once(given.stream, "drain");
  given.stream.end();
  await expect(given.done).rejects.toThrow("the log upload was stopped");
  await once(given.stream, "finish");
  await expect(stat(join(dir, "jobs/7/web-1.log"))).rejects.toThrow(/ENOENT/);
  await expect
    .poll(() =>
      stat(join(dir, "jobs/7/web-1.log.partial")).then(
        () => "kept",
        () => "gone",
      ),
    )
    .toBe("gone");
});
