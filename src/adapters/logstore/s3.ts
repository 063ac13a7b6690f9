import { GetObjectCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Readable } from "node:stream";
import { assertNoTransaction } from "../../core/db.js";
import type { LogStore, LogUpload } from "../../core/ports.js";
import { countingStream } from "./counting.js";

export interface S3Settings {
  readonly endpoint?: string | undefined;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId?: string | undefined;
  readonly secretAccessKey?: string | undefined;
  readonly forcePathStyle: boolean;
}

/** 5 MiB is S3's smallest part; two in flight bound memory to about 15 MiB per log. */
const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 2;
/** Presigned links are made fresh on every click, so they can be short-lived. */
const PRESIGN_SECONDS = 300;
/**
 * Every S3 request is bounded: an endpoint that accepts connections and never
 * answers fails the request instead of holding it forever. Uploads are also
 * bounded by the job (see core/jobs/log-upload.ts).
 */
export const S3_CONNECT_TIMEOUT_MS = 5_000;
export const S3_REQUEST_TIMEOUT_MS = 30_000;

/** Logs in S3 (or MinIO), streamed as multipart uploads while the command runs. */
export function createS3LogStore(settings: S3Settings): LogStore & { close(): void } {
  const client = new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.forcePathStyle,
    credentials: settings.accessKeyId && settings.secretAccessKey ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } : undefined,
    // Checksums only where S3 requires them: streamed bodies of unknown length
    // and S3-compatible servers then store exactly the bytes sent.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: { connectionTimeout: S3_CONNECT_TIMEOUT_MS, requestTimeout: S3_REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true },
    maxAttempts: 3,
  });
  return {
    kind: `S3 bucket ${settings.bucket}${settings.endpoint ? ` at ${settings.endpoint}` : ""}`,
    open(key, contentType = "text/plain; charset=utf-8"): LogUpload {
      const { stream, bytes } = countingStream(256 * 1024);
      assertNoTransaction("an S3 upload");
      const upload = new Upload({
        client,
        params: { Bucket: settings.bucket, Key: key, Body: stream, ContentType: contentType },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      const done = upload.done().then(() => ({ bytes: bytes() }));
      // Keep draining after a failure so the command is never blocked by its log.
      done.catch(() => stream.resume());
      return {
        stream,
        done,
        abort() {
          stream.resume();
          // Aborting also removes the parts sent so far (leavePartsOnError is false).
          void upload.abort().catch(() => {});
        },
      };
    },
    async locate(key) {
      const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: settings.bucket, Key: key }), {
        expiresIn: PRESIGN_SECONDS,
      });
      return { redirect: url };
    },
    async read(key) {
      assertNoTransaction("an S3 read");
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: settings.bucket, Key: key }));
        return { stream: object.Body as Readable, bytes: Number(object.ContentLength ?? 0) };
      } catch (err) {
        if ((err as { name?: string }).name === "NoSuchKey") return undefined;
        throw err;
      }
    },
    async check(timeoutMs = 2000) {
      assertNoTransaction("an S3 check");
      await client.send(new HeadBucketCommand({ Bucket: settings.bucket }), { abortSignal: AbortSignal.timeout(timeoutMs) });
    },
    close() {
      client.destroy();
    },
  };
}
