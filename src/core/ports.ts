import type { Readable, Writable } from "node:stream";
import type { Host } from "./hosts/hosts.js";
import type { Message } from "./chat/i18n.js";

/**
 * The small interfaces through which core reaches the outside. Adapters and
 * the worker implement them: Redis, S3 and the chat platforms stay out of core.
 */

/** Carries job references (never secrets or chat tokens) to the workers. */
export interface JobQueue {
  enqueue(jobId: number): Promise<void>;
  /**
   * Hands the job to the workers again unless the queue still holds it (waiting, or taken by a
   * worker). Returns true when it was queued again. Safe whatever the queue holds: a job runs at
   * most once (claimJob decides).
   */
  ensureQueued(jobId: number): Promise<boolean>;
}

export interface LogUpload {
  /** Write output here; backpressure is honoured, so memory stays bounded. */
  readonly stream: Writable;
  /** Resolves once the whole object is stored; rejects if storing failed or was aborted. */
  readonly done: Promise<{ bytes: number }>;
  /** Gives up on the object: `done` rejects and nothing partial is kept. */
  abort(): void;
}

/** Where full job logs live: S3 in production, a directory on a laptop. */
export interface LogStore {
  readonly kind: string;
  open(key: string, contentType?: string): LogUpload;
  /** How a browser gets the object: a fresh presigned URL, or the bytes themselves. */
  locate(key: string): Promise<{ redirect: string } | { stream: Readable; bytes: number } | undefined>;
  /** The object's bytes through testum, for pages that show a log inline. */
  read(key: string): Promise<{ stream: Readable; bytes: number } | undefined>;
  /** Fails when the store cannot be reached, or does not answer within `timeoutMs`. */
  check(timeoutMs?: number): Promise<void>;
}

/** A token bucket shared by every testum process (see adapters/redis). */
export interface RateBudget {
  /** Takes one token for `key`; returns 0 to go ahead, or the milliseconds to wait. */
  take(key: string, rule: RateRule): Promise<number>;
  /** Holds every process off `key` for `ms` (after the platform answered 429). */
  block(key: string, ms: number): Promise<void>;
}

export interface RateRule {
  /** Tokens added per second. */
  readonly ratePerSecond: number;
  /** Most tokens held at once. */
  readonly burst: number;
}

export type { Logger } from "./jobs/log.js";

/** What an SSH probe of a host found. */
export interface ProbeResult {
  readonly reachable: boolean;
  readonly authenticated: boolean;
  /** The host key presented, when the handshake got that far. */
  readonly fingerprint?: string | undefined;
  readonly latencyMs?: number | undefined;
  /** Why it failed, in English words (logs, CLI). */
  readonly error?: string | undefined;
  /** The same, as a catalogue message when there is one, for chat in the user's language. */
  readonly errorMessage?: Message | undefined;
  readonly errorCode?: string | undefined;
}

/** A new SSH key pair in OpenSSH formats. */
export interface KeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

/**
 * Management access to hosts over SSH (the worker's SSH door, used for
 * probing and for editing authorized_keys).
 */
export interface RemoteAccess {
  /** Connects and reports; connection failures are results, not errors. */
  probe(host: Host, options?: { privateKey?: string }): Promise<ProbeResult>;
  /**
   * The fingerprint of the host key the host presents now. Only the key is
   * read: no credential of any kind is offered.
   */
  fetchHostKey(host: Host): Promise<string>;
  /**
   * Reads `~/.ssh/authorized_keys` (null when absent), lets `edit` compute the
   * new content (undefined: leave it), and replaces the file atomically, only
   * if nobody changed it in between. Returns the content before and after.
   */
  editAuthorizedKeys(host: Host, edit: (current: string | null) => string | undefined): Promise<{ before: string | null; after: string | null; changed: boolean }>;
  /**
   * Stops what a task left on a host: every process carrying TESTUM_TASK=`tag`
   * (and the descendants of `pid`), TERM, then KILL. Returns how many there
   * were, and how many are left.
   */
  stopTask(host: Host, tag: string, pid?: number): Promise<{ found: number; left: number }>;
  /** Makes a new ed25519 key pair. */
  generateKeyPair(comment: string): KeyPair;
  /** Throws unless the text is a usable private key (and the passphrase opens it). */
  checkPrivateKey(privateKey: string, passphrase?: string): void;
}

/** Remembers platform event ids across every testum process (see adapters/redis/replay.ts). */
export interface ReplayGuard {
  /** True the first time `eventKey` is offered within `ttlMs`, false for every repeat. */
  firstTime(eventKey: string, ttlMs: number): Promise<boolean>;
}

/** Tells every worker that a job was cancelled (the database keeps the request too). */
export interface CancelBus {
  publish(jobId: number): Promise<void>;
  /** Calls `onCancel` for every cancel published; resolves to an unsubscribe function. */
  subscribe(onCancel: (jobId: number) => void): Promise<() => Promise<void>>;
}

/**
 * What a chat platform says about a person now. `gone`: the platform says they
 * left (removed, deactivated, no longer a member); `refused`: it will not say
 * (missing scope, no access, the platform is not configured): either way they
 * cannot be re-resolved. `unavailable`: it could not answer this time
 * (timeout, 5xx, rate limit) and may later.
 */
export type PersonNow = { readonly state: "present"; readonly groups: readonly string[] } | { readonly state: "gone" | "refused" | "unavailable"; readonly detail: string };

/** Looks a person up on their platform, for work done later in their name (schedules, approvals). */
export interface PeopleLookup {
  /**
   * Re-reads `identity`'s groups (Slack user groups, Discord roles) from the
   * platform. `conversation` is where they acted (it names the workspace).
   * Answers may be reused for a few seconds unless `fresh` is asked for.
   * Never throws; answers within a bounded time.
   */
  lookUp(identity: string, conversation: string, options?: { readonly fresh?: boolean }): Promise<PersonNow>;
}
