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

/** JSON lines on stdout (or `destination`), secrets redacted. */
export function createLogger(level: string, bindings: object = {}, destination?: { write(line: string): void }): Logger {
  const options = {
    level,
    base: { app: "testum", ...bindings },
    redact: { paths: REDACT, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return (destination ? pino(options, destination) : pino(options)) as unknown as Logger;
}
