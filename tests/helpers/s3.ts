// A throwaway S3 endpoint (s3rver) with one bucket, for tests of log/artifact storage.
//
// The client uses requestChecksumCalculation / responseChecksumValidation = "WHEN_REQUIRED":
// with the SDK's default checksums s3rver silently stores stream bodies in aws-chunked wire
// format, and presigned PUT URLs carry an empty-body CRC32 that real S3 rejects.

import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { onProcessExit } from "./sshd.js";

export interface TestS3 {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: true;
  /** Temp dir holding the objects; removed by close(). */
  directory: string;
  client: S3Client;
  getObjectText(key: string): Promise<string>;
  getObjectBytes(key: string): Promise<Uint8Array>;
  /** All keys under `prefix` (every page), sorted. */
  listKeys(prefix?: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface StartS3Options {
  /** Default 'testum-test'. */
  bucket?: string;
  /** Default 'us-east-1'. */
  region?: string;
}

// Object dirs of servers not yet closed, removed synchronously if the process exits first.
const liveDirs = new Set<string>();
let exitHandlerInstalled = false;

export async function startS3(options: StartS3Options = {}): Promise<TestS3> {
  const bucket = options.bucket ?? "testum-test";
  const region = options.region ?? "us-east-1";
  // s3rver accepts any signature made with these credentials.
  const accessKeyId = "S3RVER";
  const secretAccessKey = "S3RVER";
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    onProcessExit(() => {
      for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
    });
  }
  const directory = await mkdtemp("/tmp/testum-s3rver-");
  liveDirs.add(directory);
  const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true });
  let client: S3Client | undefined;
  try {
    const { port } = (await server.run()) as { port: number };
    const endpoint = `http://127.0.0.1:${port}`;
    const s3 = new S3Client({
      region,
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    client = s3;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));

    const getObjectBytes = async (key: string): Promise<Uint8Array> => {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!out.Body) throw new Error(`s3: empty body for ${key}`);
      return out.Body.transformToByteArray();
    };

    let closed: Promise<void> | undefined;
    return {
      endpoint,
      bucket,
      region,
      accessKeyId,
      secretAccessKey,
      forcePathStyle: true,
      directory,
      client: s3,
      getObjectBytes,
      getObjectText: async (key) => Buffer.from(await getObjectBytes(key)).toString("utf8"),
      listKeys: async (prefix) => {
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
          for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return keys.sort();
      },
      close: () =>
        (closed ??= (async () => {
          s3.destroy();
          await server.close().catch(() => undefined);
          // s3rver keeps its files after close().
          await rm(directory, { recursive: true, force: true });
          liveDirs.delete(directory);
        })()),
    };
  } catch (error) {
    client?.destroy();
    await Promise.resolve(server.close()).catch(() => undefined);
    await rm(directory, { recursive: true, force: true });
    liveDirs.delete(directory);
    throw error;
  }
}
