import { pino } from "pino";
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

/** JSON lines on stdout, secrets redacted. */
export function createLogger(level: string, bindings: object = {}): Logger {
  return pino({
    level,
    base: { app: "testum", ...bindings },
    redact: { paths: REDACT, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  }) as unknown as Logger;
}
