import type { Inbound, Reply } from "../chat.js";
import type { ChatDirectory } from "../chat.js";
import type { Command, CommandName } from "../commands.js";
import type { Sql } from "../db.js";
import type { JobQueue, Logger, RemoteAccess } from "../ports.js";
import type { SecretBox } from "../secret-box.js";

export interface AppSettings {
  /** Identities that may use testum (until roles exist, everyone else is refused). */
  readonly admins: readonly string[];
  readonly publicUrl: string;
  readonly jobTimeoutMs: number;
}

export interface AppDeps {
  readonly sql: Sql;
  readonly box: SecretBox;
  readonly remote: RemoteAccess;
  readonly chat: ChatDirectory;
  readonly queue: JobQueue;
  readonly log: Logger;
  readonly settings: AppSettings;
}

/** What every handler gets: the dependencies and an audit helper bound to the event. */
export interface HandlerContext extends AppDeps {
  audit(action: string, outcome: string, target?: string, detail?: Record<string, unknown>): Promise<void>;
}

export type Handler<N extends CommandName> = (ctx: HandlerContext, event: Inbound, cmd: Extract<Command, { name: N }>) => Promise<Reply>;
export type Handlers = { readonly [N in CommandName]: Handler<N> };
