import { mkdtemp, readFile, rm } from "node:fs/promises";
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
