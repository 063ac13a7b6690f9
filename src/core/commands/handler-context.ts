import type { Principal } from "../access/access.js";
import type { Inbound, Reply } from "../chat/chat.js";
import type { ChatDirectory } from "../chat/chat.js";
import type { Command, CommandName } from "./commands.js";
import type { Sql } from "../db.js";
import type { Host } from "../hosts/hosts.js";
import type { Lang, Translator } from "../chat/i18n.js";
import type { CancelBus, JobQueue, Logger, PeopleLookup, RemoteAccess, ReplayGuard } from "../ports.js";
import type { Job } from "../jobs/jobs.js";
import type { SecretBox } from "../hosts/secret-box.js";
import type { Schedule } from "../schedules/schedules.js";
import type { Runbook } from "../runbooks/runbooks.js";
import type { AuditAction } from "../access/audit-actions.js";
import type { IdentityForms } from "../access/chat-identities.js";

export interface AppSettings {
  /** Identities that are admins everywhere, whatever the role bindings say (TESTUM_ADMINS). */
  readonly admins: readonly string[];
  readonly publicUrl: string;
  readonly jobTimeoutMs: number;
  /** Runs on more hosts than this need approval. */
  readonly approvalHosts: number;
  /** Distinct approvers a risky job needs. */
  readonly approvalsRequired: number;
  readonly approvalTtlMs: number;
  /** How long a job's links open after it starts (TESTUM_LINK_TTL). */
  readonly linkTtlMs: number;
  /** The language of people whose platform does not say theirs (TESTUM_LANG). */
  readonly lang: Lang;
  /** `allowlist`: commands of one's own need the free-form right; runbooks need what each asks for (TESTUM_MODE). */
  readonly mode: "open" | "allowlist";
  /** The identities people may name (grant, revoke): one form per chat platform. */
  readonly identities: IdentityForms;
}

export interface AppDeps {
  readonly sql: Sql;
  readonly box: SecretBox;
  readonly remote: RemoteAccess;
  readonly chat: ChatDirectory;
  readonly queue: JobQueue;
  readonly cancels: CancelBus;
  /** Refuses a platform event (a signed request) seen before. */
  readonly replay: ReplayGuard;
  /** Re-reads someone's platform groups, for work done later in their name. */
  readonly people: PeopleLookup;
  readonly log: Logger;
  readonly settings: AppSettings;
}

/**
 * What every handler gets: the dependencies, the actor's rights, an audit
 * helper bound to the event, and the actor's language.
 */
export interface HandlerContext extends AppDeps {
  /** The actor's language: what the platform says, else TESTUM_LANG. Jobs and schedules they make keep it. */
  readonly lang: Lang;
  /** Says a catalogue message in the actor's language; every reply goes through it. */
  readonly t: Translator;
  audit(action: AuditAction, outcome: string, target?: string, detail?: Record<string, unknown>): Promise<void>;
  /** The actor with the role bindings that apply to them (loaded once per event). */
  principal(): Promise<Principal>;
  /** The hosts `target` names now (read once per event and target); authorize.ts checks them. */
  targetHosts(target: string): Promise<Host[]>;
}

/** `scope`: what the command acts on, already resolved and authorised (see authorize.ts). */
/** What a handler may act on: every host here was checked (see authorize.ts). */
export interface Scope {
  readonly hosts: readonly Host[];
  readonly job?: Job;
  readonly schedule?: Schedule;
  readonly runbook?: Runbook;
}

export type Handler<N extends CommandName> = (ctx: HandlerContext, event: Inbound, cmd: Extract<Command, { name: N }>, scope: Scope) => Promise<Reply>;
export type Handlers = { readonly [N in CommandName]: Handler<N> };
