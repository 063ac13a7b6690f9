/**
 * The contract between core and every chat platform. Core speaks of
 * conversations, threads, messages, views and identities; each adapter owns
 * the encoding of its references (opaque strings that start with the
 * adapter's platform name, e.g. `slack:…`, `discord:…`) and renders views
 * into its own payloads.
 */
import { assertNoTransaction } from "../db.js";
import type { Lang } from "./i18n.js";

/** Who did something: a platform-prefixed identity such as `slack:T0123:U0456`. */
export interface Actor {
  readonly id: string;
  /** Display name where the platform tells it. */
  readonly name?: string | undefined;
  /** Platform groups the actor belongs to, as identities (`discord:G:role:R`). */
  readonly groups: readonly string[];
  /** BCP 47 language tag from the platform, when known. */
  readonly locale?: string | undefined;
}

export type Tone = "neutral" | "progress" | "success" | "failure" | "warning";

export interface Button {
  readonly label: string;
  /** Encoded action payload (see actions.ts); at most 100 characters. */
  readonly action: string;
  readonly style?: "primary" | "danger";
}

/**
 * A platform-neutral message. All text is plain text: adapters escape it for
 * their markup, so nothing in a view can mention or ping anyone.
 */
export type Block =
  | { readonly type: "heading"; readonly text: string }
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "fields"; readonly fields: ReadonlyArray<{ readonly label: string; readonly value: string }> }
  /** Preformatted output. `lines` are sanitised; adapters keep the last ones that fit. */
  | { readonly type: "code"; readonly lines: readonly string[]; readonly omitted?: number }
  | { readonly type: "links"; readonly links: ReadonlyArray<{ readonly label: string; readonly url: string }> }
  | { readonly type: "context"; readonly text: string }
  | { readonly type: "actions"; readonly buttons: readonly Button[] };

export interface View {
  /** Short one-line summary: notification text and fallback where blocks are not shown. */
  readonly text: string;
  readonly tone?: Tone;
  readonly blocks: readonly Block[];
  /** The language the view is written in, for the few words an adapter adds (English when absent). */
  readonly lang?: Lang | undefined;
}

/** A form the user fills in privately (a Slack modal, a Discord modal). */
export interface Form {
  /** Encoded action payload identifying the form on submit. */
  readonly action: string;
  readonly title: string;
  readonly fields: ReadonlyArray<{
    readonly id: string;
    readonly label: string;
    readonly multiline?: boolean;
    readonly required?: boolean;
    readonly placeholder?: string;
    readonly maxLength?: number;
  }>;
  readonly submitLabel?: string;
  /** The language of the form, for the buttons an adapter adds (English when absent). */
  readonly lang?: Lang | undefined;
}

/** What an adapter does with the immediate answer to an inbound event. */
export type Reply =
  /**
   * Visible only to the actor. `refused`: the request was refused and did nothing (a bad value,
   * no right, …): a form it came from stays open to be corrected, where the platform allows.
   */
  | { readonly kind: "private"; readonly view: View; readonly refused?: boolean }
  /** Replace the message that holds the clicked button. */
  | { readonly kind: "update"; readonly view: View }
  /** Open a private form. */
  | { readonly kind: "form"; readonly form: Form }
  /** Nothing more to say (the action's effect is visible elsewhere). */
  | { readonly kind: "none" };

/** Raw command input as the platform delivered it: free text, or typed options. */
export type CommandInput =
  | { readonly type: "text"; readonly text: string }
  | {
      readonly type: "options";
      readonly path: readonly string[];
      readonly options: Readonly<Record<string, string | number | boolean>>;
    };

interface InboundBase {
  readonly actor: Actor;
  /** Where it happened, as an adapter-owned conversation reference. */
  readonly conversation: string;
  /** The platform's id for this event (trigger id, interaction id). */
  readonly eventId: string;
  /** Sends a further private message to the actor, for a while after the event. */
  readonly respond: (view: View) => Promise<void>;
}

export type Inbound =
  | (InboundBase & { readonly kind: "command"; readonly input: CommandInput })
  | (InboundBase & { readonly kind: "action"; readonly message: string; readonly action: string })
  | (InboundBase & {
      readonly kind: "form";
      readonly action: string;
      readonly values: Readonly<Record<string, string>>;
    });

/** A posted parent message and the thread that hangs off it. */
export interface ThreadStart {
  readonly message: string;
  readonly thread: string;
}

/** How long a post may wait for the shared budget and the platform's rate limits. */
export interface SendOptions {
  /** 0: never wait; throw RateLimitedError saying how long to wait instead (default: up to a minute). */
  readonly maxWaitMs?: number;
}

/**
 * What every chat adapter implements. Every method is required; references
 * are opaque to callers. Methods throw RateLimitedError when the platform (or
 * testum's shared budget for it) says to wait.
 */
export interface ChatAdapter {
  /** The prefix of every reference this adapter owns, e.g. `slack`. */
  readonly platform: string;
  /** Shortest interval between two edits of one message. */
  readonly minEditIntervalMs: number;
  /** Posts a top-level message into a conversation and opens a thread on it. */
  startThread(conversation: string, view: View, title: string, options?: SendOptions): Promise<ThreadStart>;
  /** Posts a message into a thread; returns the message reference. */
  post(thread: string, view: View, options?: SendOptions): Promise<string>;
  /** Replaces a message's content. */
  edit(message: string, view: View): Promise<void>;
}

/** Finds the adapter that owns a reference by its platform prefix. */
export interface ChatDirectory {
  adapterFor(ref: string): ChatAdapter;
  platforms(): readonly string[];
}

/** The adapter's calls, each refusing to start inside a database transaction. */
function guarded(adapter: ChatAdapter): ChatAdapter {
  return {
    platform: adapter.platform,
    minEditIntervalMs: adapter.minEditIntervalMs,
    startThread: async (conversation, view, title, options) => (assertNoTransaction(`a ${adapter.platform} post`), adapter.startThread(conversation, view, title, options)),
    post: async (thread, view, options) => (assertNoTransaction(`a ${adapter.platform} post`), adapter.post(thread, view, options)),
    edit: async (message, view) => (assertNoTransaction(`a ${adapter.platform} edit`), adapter.edit(message, view)),
  };
}

export function createChatDirectory(adapters: readonly ChatAdapter[]): ChatDirectory {
  const byPlatform = new Map(adapters.map((a) => [a.platform, guarded(a)]));
  return {
    adapterFor(ref) {
      const platform = ref.slice(0, ref.indexOf(":"));
      const adapter = byPlatform.get(platform);
      if (!adapter) throw new Error(`no chat adapter is configured for "${platform}" (reference ${ref})`);
      return adapter;
    },
    platforms: () => [...byPlatform.keys()],
  };
}

/**
 * How a person is shown to others: the display name they chose, next to the
 * identity that cannot be chosen (anyone may call themselves "CTO").
 */
export function displayName(name: string | null | undefined, id: string): string {
  return name && name !== id ? `${name} (${id})` : id;
}

/** The platform part of an identity or reference: `slack` for `slack:T1:U2`. */
export function platformOf(ref: string): string {
  return ref.slice(0, Math.max(0, ref.indexOf(":")));
}
