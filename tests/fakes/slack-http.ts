/**
 * Request decoding and argument helpers for the fake Slack Web API.
 * @slack/web-api sends `application/x-www-form-urlencoded` with nested values
 * (`blocks`, `attachments`, `view`) as JSON strings (Src `WebClient#serializeBody`);
 * Slack also accepts JSON bodies with the token in the Authorization header.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SlackArgs } from './slack-types.js';

const MAX_BODY_BYTES = 5 * 1024 * 1024;

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export type Decoded = { ok: true; args: SlackArgs } | { ok: false; error: string };

/** Query-string arguments, overridden by body arguments. */
export function decodeArgs(contentType: string | undefined, raw: string, query: URLSearchParams): Decoded {
  const args: SlackArgs = Object.fromEntries(query);
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = raw === '' ? {} : JSON.parse(raw);
    } catch {
      return { ok: false, error: 'invalid_json' };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return { ok: false, error: 'invalid_json' };
    }
    return { ok: true, args: { ...args, ...(parsed as SlackArgs) } };
  }
  if (type === '' || type === 'application/x-www-form-urlencoded') {
    return { ok: true, args: { ...args, ...Object.fromEntries(new URLSearchParams(raw)) } };
  }
  return { ok: false, error: 'invalid_form_data' };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

/** A string argument; numbers are stringified (a float `thread_ts` arrives as a number in JSON). */
export function str(args: SlackArgs, key: string): string | undefined {
  const v = args[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Form bodies carry booleans as `'true'`/`'1'`, JSON bodies as booleans. */
export function bool(args: SlackArgs, key: string): boolean {
  const v = args[key];
  return v === true || v === 'true' || v === '1' || v === 1;
}

export type JsonField<T> = { ok: true; value: T | undefined } | { ok: false };

/** A field that is JSON-encoded in form bodies and a plain value in JSON bodies. */
export function jsonField(args: SlackArgs, key: string): JsonField<unknown> {
  const v = args[key];
  if (v === undefined || v === null || v === '') return { ok: true, value: undefined };
  if (typeof v !== 'string') return { ok: true, value: v };
  try {
    return { ok: true, value: JSON.parse(v) };
  } catch {
    return { ok: false };
  }
}

export function jsonArray(args: SlackArgs, key: string): JsonField<unknown[]> {
  const field = jsonField(args, key);
  if (!field.ok) return field;
  if (field.value === undefined) return { ok: true, value: undefined };
  return Array.isArray(field.value) ? { ok: true, value: field.value } : { ok: false };
}

export function jsonObject(args: SlackArgs, key: string): JsonField<Record<string, unknown>> {
  const field = jsonField(args, key);
  if (!field.ok) return field;
  const v = field.value;
  if (v === undefined) return { ok: true, value: undefined };
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? { ok: true, value: v as Record<string, unknown> } : { ok: false };
}
