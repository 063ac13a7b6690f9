import { translate, type Message, type MessageKey, type Params, type PlatformKey, type Translator } from "./chat/i18n.js";

/**
 * Errors testum knows about. Every one carries a stable `code` and a message
 * that is safe to show to a chat user: it never contains a secret. Anything
 * that is not a TestumError is an internal error: logged with an incident id,
 * and the user sees only that id.
 *
 * An error made from a catalogue message (see i18n.ts) keeps its `key` and
 * `params`, so chat can say it in the user's language; `message` is always
 * the English text, for logs.
 */
export type ErrorCode =
  | "usage"
  | "not_allowed"
  | "unknown_host"
  | "invalid_host"
  | "host_exists"
  | "unknown_job"
  | "ssh_connect_failed"
  | "ssh_auth_failed"
  | "host_key_mismatch"
  | "ssh_failed"
  | "secret_unreadable"
  | "chat_unavailable"
  | "rate_limited"
  | "conflict"
  | "invalid_input";

export class TestumError extends Error {
  readonly code: ErrorCode;
  readonly key: MessageKey | PlatformKey | undefined;
  readonly params: Params | undefined;

  constructor(code: ErrorCode, message: string | Message, options?: { cause?: unknown }) {
    super(typeof message === "string" ? message : translate("en", message.key, message.params), options);
    this.code = code;
    this.name = "TestumError";
    this.key = typeof message === "string" ? undefined : message.key;
    this.params = typeof message === "string" ? undefined : message.params;
  }

  /** The message in the language of `t` when it came from the catalogue; the English text otherwise. */
  say(t: Translator): string {
    return this.key ? t(this.key, this.params) : this.message;
  }
}

/** Malformed chat command or CLI arguments; `usage` tells how to write it. */
export class UsageError extends TestumError {
  readonly usage: string | undefined;

  constructor(message: string | Message, usage?: string) {
    super("usage", message);
    this.name = "UsageError";
    this.usage = usage;
  }
}

export class NotAllowedError extends TestumError {
  /** The right that was missing, and where (host names, or `*`), for the audit trail. */
  readonly right: string | undefined;
  readonly hosts: readonly string[] | undefined;

  constructor(message: string | Message, detail: { right?: string; hosts?: readonly string[] } = {}) {
    super("not_allowed", message);
    this.name = "NotAllowedError";
    this.right = detail.right;
    this.hosts = detail.hosts;
  }
}

/** The chat platform asked us to slow down; `retryAfterMs` says for how long. */
export class RateLimitedError extends TestumError {
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number, message = "rate limited by the chat platform") {
    super("rate_limited", message);
    this.name = "RateLimitedError";
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The chat platform could not be reached or answered with a server error
 * (5xx, timeout, connection refused): nothing was refused, so the same call
 * may work later. A refusal (unknown channel, missing permission) is a plain
 * TestumError instead.
 */
export class ChatUnreachableError extends TestumError {
  constructor(message: string | Message, options?: { cause?: unknown }) {
    super("chat_unavailable", message, options);
    this.name = "ChatUnreachableError";
  }
}

/** Why an SSH attempt failed, told apart so chat can say exactly what happened. */
/** `not_started`: the connection refused a new channel, so the command never ran. */
export type SshFailure = "connect" | "auth" | "host_key_mismatch" | "not_started" | "other";

export class SshError extends TestumError {
  readonly failure: SshFailure;
  /** For host_key_mismatch: the pinned and the presented fingerprints. */
  readonly expectedFingerprint: string | undefined;
  readonly actualFingerprint: string | undefined;
  /** The host whose key it was, when not the one asked for (a bastion on the way). */
  readonly host: string | undefined;

  constructor(
    failure: SshFailure,
    message: string | Message,
    detail: { expected?: string | undefined; actual?: string | undefined; cause?: unknown; host?: string | undefined } = {},
  ) {
    const code: ErrorCode =
      failure === "connect" ? "ssh_connect_failed" : failure === "auth" ? "ssh_auth_failed" : failure === "host_key_mismatch" ? "host_key_mismatch" : "ssh_failed";
    super(code, message, { cause: detail.cause });
    this.name = "SshError";
    this.failure = failure;
    this.expectedFingerprint = detail.expected;
    this.actualFingerprint = detail.actual;
    this.host = detail.host;
  }
}

export function isTestumError(err: unknown): err is TestumError {
  return err instanceof TestumError;
}
