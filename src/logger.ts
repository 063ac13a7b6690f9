import { pino } from "pino";
import pretty from "pino-pretty";
import type { Logger } from "./core/ports.js";

/** Paths whose values never reach the log, wherever they appear. */
const REDACT = [
  "password",
  "passphrase",
  "privateKey",
  "token",
  "botToken",
  "signingSecret",
  "secretAccessKey",
  "masterKey",
  "authorization",
  "*.password",
  "*.passphrase",
  "*.privateKey",
  "*.token",
  "*.botToken",
  "*.signingSecret",
  "*.secretAccessKey",
  "*.masterKey",
  "*.authorization",
  "*.headers.authorization",
  "*.*.headers.authorization",
];

/** Keys whose values are secrets at any depth (pino's redact paths reach only fixed depths). */
const SECRET_KEYS = new Set([
  "password",
  "passphrase",
  "privatekey",
  "private_key",
  "token",
  "bottoken",
  "signingsecret",
  "secretaccesskey",
  "masterkey",
  "authorization",
  "logtoken",
]);
const MAX_DEPTH = 8;

/**
 * Link tokens (the keys of `/logs/…`, `/reports/…` and `/jobs/ID/…` links)
 * are bearer credentials: masked wherever they appear in a line, whoever
 * wrote it (testum, or a chat SDK logging the messages it sends).
 */
export function maskLinks(text: string): string {
  return text
    .replace(/(\/(?:logs|reports)\/)[A-Za-z0-9_-]{20,64}/g, "$1***")
    .replace(/(\/jobs\/\d{1,15}\/)[A-Za-z0-9_-]{20,64}/g, "$1***")
    .replace(/([?&]t=)[A-Za-z0-9_-]{20,64}/g, "$1***");
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of a log object with every secret-named field redacted, however
 * deep (an error's `cause`, its `cause`'s fields, a config inside an
 * options object); errors become plain objects with their own fields.
 */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return maskLinks(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > MAX_DEPTH) return "[too deep]";
  if (Array.isArray(value)) return value.map((v) => scrubSecrets(v, depth + 1));
  const error = value instanceof Error;
  if (!error && !isPlain(value)) return value;
  // An error stays an error of its class (the log's error serializer names it), with scrubbed fields.
  const out = (error ? Object.create(Object.getPrototypeOf(value) as object) : {}) as Record<string, unknown>;
  if (error)
    Object.defineProperties(out, { message: { value: maskLinks(value.message), enumerable: false }, stack: { value: value.stack && maskLinks(value.stack), enumerable: false } });
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.has(k.toLowerCase()) ? "[redacted]" : scrubSecrets(v, depth + 1);
  if (error && value.cause !== undefined) Object.defineProperty(out, "cause", { value: scrubSecrets(value.cause, depth + 1), enumerable: false });
  return out;
}

/** `json`: one JSON object per line; `pretty`: coloured lines for people; `auto`: pretty on a terminal. */
export type LogFormat = "auto" | "json" | "pretty";

export interface LoggerOptions {
  readonly bindings?: object;
  readonly format?: LogFormat;
  /** Where lines go instead of `fd` (tests collect them). */
  readonly destination?: NodeJS.WritableStream | { write(line: string): void };
  /** 1 (stdout, the default) or 2 (stderr: the command line keeps stdout for its output). */
  readonly fd?: 1 | 2;
}

/** testum's log, secrets redacted: JSON lines, or pretty lines on a terminal (LOG_FORMAT). */
export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const settings = {
    level,
    base: { app: "testum", ...options.bindings },
    redact: { paths: REDACT, censor: "[redacted]" },
    formatters: { log: (object: Record<string, unknown>) => scrubSecrets(object) as Record<string, unknown> },
    hooks: {
      // The message itself, too: link tokens never reach the log.
      logMethod(this: unknown, args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(
          this,
          args.map((a) => (typeof a === "string" ? maskLinks(a) : a)),
        );
      },
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const fd = options.fd ?? 1;
  const terminal = (fd === 2 ? process.stderr : process.stdout).isTTY === true;
  const format = options.format ?? "auto";
  if (format === "pretty" || (format === "auto" && terminal && !options.destination)) {
    const stream = pretty({
      destination: (options.destination as NodeJS.WritableStream | undefined) ?? fd,
      colorize: terminal && !options.destination,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname,app",
      sync: true,
    });
    return pino(settings, stream) as unknown as Logger;
  }
  const destination = options.destination ?? pino.destination({ dest: fd, sync: true });
  return pino(settings, destination) as unknown as Logger;
}
