import type { App } from "../core/app.js";
import type { ChatAdapter } from "../core/chat/chat.js";
import type { ConfigFragment, CoreConfig, SettingsOf } from "../core/config.js";
import type { Sql } from "../core/db.js";
import type { PlatformKey, PlatformStrings } from "../core/chat/i18n.js";
import type { Logger, PeopleLookup, RateBudget, ReplayGuard } from "../core/ports.js";
import type { Listener } from "./http/server.js";

/**
 * A chat platform as testum plugs it in: one folder under src/adapters/ that
 * exports one of these from its index.ts, and one line in platforms.ts.
 * Config, runtime and help iterate that list; core never names a platform.
 *
 * index.ts stays light (no SDK import): the command line loads every
 * platform's configuration fragment, and only a platform that is on loads
 * its SDK, from inside connect. See docs/adding-a-platform.md.
 */
export interface ChatPlatform<F extends ConfigFragment = ConfigFragment> {
  /** The prefix of every identity and reference it owns (`slack` in `slack:T1:U2`); its ChatAdapter's `platform`. */
  readonly id: string;
  /** How logs and docs name it (`Slack`). */
  readonly name: string;
  /** How its identities look, for configuration errors and help. */
  readonly identities: {
    /** A person (`slack:T0123:U0456`). */
    readonly person: string;
    /** A group roles can be granted to, when it has groups (`slack:TEAM:group:S0123`). */
    readonly group?: string;
  };
  /** Its environment variables, parsed with the rest of the configuration at start-up. */
  readonly config: F;
  /** What it says itself, in every language (its strings.ts; defineStrings adds them to the catalogue). */
  readonly strings?: PlatformStrings<PlatformKey>;
  /**
   * A stand-in for a chat platform (the playground): connected after the
   * others, and told how many of them are on.
   */
  readonly standIn?: boolean;
  /**
   * Turns it on in every process (web and worker processes both post and
   * edit messages), or says why it is off. Loads the SDK only when it is on.
   */
  connect(config: SettingsOf<F> & CoreConfig, services: PlatformServices): Promise<Connected | Off>;
}

/** What connect gets from the runtime. */
export interface PlatformServices {
  readonly sql: Sql;
  readonly log: Logger;
  /** Rate budgets shared by every testum process (Redis). */
  readonly budget: RateBudget;
  /** How many chat platforms are on (counted before stand-ins connect; 0 for the others). */
  readonly chatPlatformsOn: number;
}

/** A platform that is off, and why: a line for the start-up log (`Slack: off (SLACK_BOT_TOKEN … not set)`). */
export interface Off {
  readonly off: string;
}

/** A platform that is on. */
export interface Connected {
  /** Posts and edits its messages (core/chat/chat.ts). */
  readonly adapter: ChatAdapter;
  /** Who someone is now, asked when work is done later in their name. */
  readonly people: PeopleLookup;
  /** Identities that are admins while it is on, besides TESTUM_ADMINS (the playground's local:admin when alone). */
  readonly admins?: readonly string[];
  /** Opens its ways in (HTTP routes, sockets); only the web side calls it, once core is ready. Logs how it listens. */
  listen(services: InboundServices): Promise<Inbound>;
}

/** What listen gets from the runtime. */
export interface InboundServices {
  /** Core's request handling: every inbound event goes to core.handle. */
  readonly core: App;
  /** Its adapter as core's chat directory holds it (calls refuse to run inside a database transaction). */
  readonly chat: ChatAdapter;
  /** Takes each platform event once across every testum process. */
  readonly replay: ReplayGuard;
  /** Serves `routes` on a server of their own (closed when testum stops); resolves to its port. */
  serve(routes: Readonly<Record<string, Listener>>, port: number, host: string): Promise<number>;
}

/** A platform's ways in. */
export interface Inbound {
  /** HTTP routes served on testum's web server (PORT). */
  readonly routes?: Readonly<Record<string, Listener>>;
  /** Where testum's web server listens instead of HOST (the playground alone keeps everything on a local address). */
  readonly host?: string;
  /** Called once testum's web server listens, with its port. */
  listening?(port: number): void;
  /** A link people open to start (the playground's, with the key of this start). */
  startUrl?(): string | undefined;
  /** Closes its connections; called after the web server stopped taking requests. */
  stop?(): Promise<void> | void;
}
