/**
 * Errors testum knows about. Every one carries a stable `code` and a message
 * that is safe to show to a chat user: it never contains a secret. Anything
 * that is not a TestumError is an internal error: logged with an incident id,
 * and the user sees only that id.
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

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "TestumError";
  }
}

/** Malformed chat command or CLI arguments; `usage` tells how to write it. */
export class UsageError extends TestumError {
  readonly usage: string | undefined;

  constructor(message: string, usage?: string) {
    super("usage", message);
    this.name = "UsageError";
    this.usage = usage;
  }
}

export class NotAllowedError extends TestumError {
  constructor(message: string) {
    super("not_allowed", message);
    this.name = "NotAllowedError";
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

/** Why an SSH attempt failed, told apart so chat can say exactly what happened. */
export type SshFailure = "connect" | "auth" | "host_key_mismatch" | "other";

export class SshError extends TestumError {
  readonly failure: SshFailure;
  /** For host_key_mismatch: the pinned and the presented fingerprints. */
  readonly expectedFingerprint: string | undefined;
  readonly actualFingerprint: string | undefined;

  constructor(
    failure: SshFailure,
    message: string,
    detail: { expected?: string; actual?: string; cause?: unknown } = {},
  ) {
    const code: ErrorCode =
      failure === "connect"
        ? "ssh_connect_failed"
        : failure === "auth"
          ? "ssh_auth_failed"
          : failure === "host_key_mismatch"
            ? "host_key_mismatch"
            : "ssh_failed";
    super(code, message, { cause: detail.cause });
    this.name = "SshError";
    this.failure = failure;
    this.expectedFingerprint = detail.expected;
    this.actualFingerprint = detail.actual;
  }
}

export function isTestumError(err: unknown): err is TestumError {
  return err instanceof TestumError;
}
