import { can, canSomewhere, loadPrincipal, type Principal } from "./access/access.js";
import { decodeAction } from "./commands/actions.js";
import { authorize, targetOf, type Request } from "./access/authorize.js";
import { recordAudit } from "./access/audit.js";
import { platformOf, type Actor, type Inbound, type Reply } from "./chat/chat.js";
import { parseCommandOptions, parseCommandText, type Command } from "./commands/commands.js";
import { helpView } from "./commands/help.js";
import { NotAllowedError, TestumError, UsageError } from "./errors.js";
import { langOf, msg, translator, type Translator } from "./chat/i18n.js";
import { access, audit, grant, revoke, riskAdd, riskList, riskRm, whoami } from "./access/handle-access.js";
import { approve, reject } from "./access/handle-approvals.js";
import type { AppDeps, Handler, HandlerContext, Handlers } from "./commands/handler-context.js";
import { hostsAdd, hostsList, hostsRepin, hostsRm, hostsSecret, hostsShow, hostsTag, hostsTest, hostsUntag, hostsVia, submitHostSecret } from "./hosts/handle-hosts.js";
import { identity, keysAdd, keysDeploy, keysList, keysRevoke, keysRm, keysStatus } from "./hosts/handle-keys.js";
import { cancel, jobsList, jobsRevokeLinks, jobsShow, logs } from "./jobs/handle-jobs.js";
import { redactAdd, redactList, redactRm } from "./jobs/handle-redaction.js";
import { rb, runbookAdd, runbookList, runbookRm, runbookShow } from "./runbooks/handle-runbooks.js";
import { decideSchedule, scheduleAdd, scheduleRb, scheduleList, schedulePause, scheduleResume, scheduleRm, scheduleRun, scheduleShow } from "./schedules/handle-schedules.js";
import { decodeScriptTarget, run, script } from "./jobs/handle-run.js";
import { scriptBody } from "./commands/commands.js";
import { hostsStartingWith, type Host } from "./hosts/hosts.js";
import { resolveTarget } from "./hosts/targets.js";
import { MAX_COMMAND_CHARS, MAX_FORM_CHARS, screenText, storable } from "./commands/input.js";
import { looksLikePrivateKey } from "./hosts/public-keys.js";
import { errorView, inLanguage, privateReply } from "./chat/replies.js";
import { truncate } from "./jobs/tail.js";
import type { Completion } from "./commands/grammar.js";
import { completeParams, completeRunbooks } from "./runbooks/runbook-complete.js";

export type { AppDeps } from "./commands/handler-context.js";

/**
 * How long an event id is remembered: longer than a signature is accepted
 * (Slack and Discord: 5 minutes either side of now).
 */
export const REPLAY_WINDOW_MS = 15 * 60_000;

export interface App {
  /** Answers one inbound chat event. Never throws: errors become private replies. */
  handle(event: Inbound): Promise<Reply>;
  /**
   * Suggestions while the user types an argument (Discord autocomplete),
   * only for actors allowed to use testum: host names or runbook names
   * starting with `prefix`, or, for a runbook's parameters (the runbook
   * named in `options.runbook`), the whole `key=value …` text completed.
   */
  complete(actor: Actor, kind: Completion, prefix: string, options?: Readonly<Record<string, string | number | boolean>>): Promise<string[]>;
  /**
   * Says things in the language of someone with this platform locale
   * (TESTUM_LANG when the platform does not say): for the few words an
   * adapter adds itself.
   */
  translator(locale: string | undefined): Translator;
}

const help: Handler<"help"> = async (ctx, _event, cmd) => privateReply(helpView(cmd.topic, ctx.t));

const HANDLERS: Handlers = {
  run,
  script,
  cancel,
  "jobs.list": jobsList,
  "jobs.show": jobsShow,
  "jobs.revoke-links": jobsRevokeLinks,
  logs,
  "hosts.list": hostsList,
  "hosts.show": hostsShow,
  "hosts.add": hostsAdd,
  "hosts.rm": hostsRm,
  "hosts.via": hostsVia,
  "hosts.tag": hostsTag,
  "hosts.untag": hostsUntag,
  "hosts.test": hostsTest,
  "hosts.repin": hostsRepin,
  "hosts.secret": hostsSecret,
  identity,
  "keys.list": keysList,
  "keys.add": keysAdd,
  "keys.rm": keysRm,
  "keys.deploy": keysDeploy,
  "keys.revoke": keysRevoke,
  "keys.status": keysStatus,
  grant,
  revoke,
  access,
  whoami,
  approve,
  reject,
  audit,
  "risk.list": riskList,
  "risk.add": riskAdd,
  "risk.rm": riskRm,
  "redact.list": redactList,
  "redact.add": redactAdd,
  "redact.rm": redactRm,
  "schedule.add": scheduleAdd,
  "schedule.rb": scheduleRb,
  "schedule.list": scheduleList,
  "schedule.show": scheduleShow,
  "schedule.rm": scheduleRm,
  "schedule.pause": schedulePause,
  "schedule.resume": scheduleResume,
  "schedule.run": scheduleRun,
  rb,
  "runbook.add": runbookAdd,
  "runbook.list": runbookList,
  "runbook.show": runbookShow,
  "runbook.rm": runbookRm,
  help,
};

/** A command as parsed, or why it could not be. */
type Parsed = { readonly cmd: Command } | { readonly error: unknown };

function rawInput(event: Extract<Inbound, { kind: "command" }>): string {
  return event.input.type === "text" ? event.input.text : `${event.input.path.join(" ")} ${Object.entries(event.input.options).flat().join(" ")}`;
}

/**
 * The chain every chat request goes through, in one place:
 * identify → screen → parse → authorize → act → audit.
 */
export function createApp(deps: AppDeps): App {
  const { sql, log, settings } = deps;

  function contextFor(event: Inbound): HandlerContext {
    let principal: Promise<Principal> | undefined;
    const targets = new Map<string, Promise<Host[]>>();
    const lang = langOf(event.actor.locale, settings.lang);
    return {
      ...deps,
      lang,
      t: translator(lang),
      principal: () => (principal ??= loadPrincipal(sql, event.actor, settings.admins)),
      targetHosts(target) {
        let reading = targets.get(target);
        if (!reading) targets.set(target, (reading = resolveTarget(sql, target)));
        return reading;
      },
      audit: (action, outcome, target, detail) =>
        recordAudit(sql, { actor: event.actor.id, actorName: event.actor.name, channel: event.conversation, action, target, outcome, detail }),
    };
  }

  /** authorize → act: the one way any request (typed, clicked or submitted) reaches a handler. */
  async function dispatch(ctx: HandlerContext, event: Inbound, request: Request): Promise<Reply> {
    const scope = await authorize(ctx, request);
    switch (request.name) {
      case "schedule.approve":
        return decideSchedule(ctx, event, scope, "approve");
      case "schedule.reject":
        return decideSchedule(ctx, event, scope, "reject");
      default:
        return (HANDLERS[request.name] as Handler<typeof request.name>)(ctx, event, request, scope);
    }
  }

  function parseOf(event: Extract<Inbound, { kind: "command" }>): Parsed {
    try {
      return { cmd: event.input.type === "text" ? parseCommandText(event.input.text) : parseCommandOptions(event.input.path, event.input.options) };
    } catch (error) {
      return { error };
    }
  }

  async function command(ctx: HandlerContext, event: Extract<Inbound, { kind: "command" }>, parsed: Parsed): Promise<Reply> {
    // A private key pasted into chat is refused before anything logs or audits the text.
    if (looksLikePrivateKey(rawInput(event))) {
      await ctx.audit("command", "refused", undefined, { reason: "private key material in the command; not stored" });
      throw new UsageError(msg("keys.private_key_refusal"));
    }
    if ("error" in parsed) {
      await ctx.audit("command", "invalid", undefined, { input: truncate(rawInput(event), 500), reason: (parsed.error as Error).message });
      throw parsed.error;
    }
    return dispatch(ctx, event, parsed.cmd);
  }

  async function form(ctx: HandlerContext, event: Extract<Inbound, { kind: "form" }>): Promise<Reply> {
    const action = decodeAction(event.action);
    if (action?.kind === "script") {
      // Form values are screened like command text: a private key is never stored as a job.
      if (Object.values(event.values).some(looksLikePrivateKey)) {
        await ctx.audit("job.request", "refused", undefined, { reason: "private key material in the script; not stored" });
        throw new UsageError(msg("keys.private_key_refusal"));
      }
      const { target, ...flags } = decodeScriptTarget(action.target);
      return dispatch(ctx, event, { name: "script", target, ...flags, script: scriptBody(event.values.script ?? "") });
    }
    if (action?.kind === "host-secret") {
      const scope = await authorize(ctx, { name: "hosts.secret", host: action.host });
      return submitHostSecret(ctx, event.actor.id, event.conversation, scope.hosts[0]!.name, event.values, deps.remote.checkPrivateKey);
    }
    throw new UsageError(msg("error.unknown_form"));
  }

  async function click(ctx: HandlerContext, event: Extract<Inbound, { kind: "action" }>): Promise<Reply> {
    const action = decodeAction(event.action);
    switch (action?.kind) {
      case "approve":
      case "reject":
      case "cancel":
        return dispatch(ctx, event, { name: action.kind, job: action.job });
      case "repin":
        return dispatch(ctx, event, { name: "hosts.repin", host: action.host, fingerprint: action.fingerprint });
      case "schedule-approve":
        return dispatch(ctx, event, { name: "schedule.approve", schedule: action.schedule });
      case "schedule-reject":
        return dispatch(ctx, event, { name: "schedule.reject", schedule: action.schedule });
      default:
        throw new UsageError(msg("error.unknown_button"));
    }
  }

  /**
   * A signed request replayed (by whoever captured it) must not act twice:
   * each platform event id is taken once across every process, for longer
   * than any signature stays valid.
   */
  async function acceptOnce(ctx: HandlerContext, event: Inbound): Promise<void> {
    let first: boolean;
    try {
      first = await deps.replay.firstTime(`${platformOf(event.actor.id) || "unknown"}:${event.eventId}`, REPLAY_WINDOW_MS);
    } catch (err) {
      log.warn({ err }, "could not check that a request is new");
      throw new TestumError("chat_unavailable", msg("error.replay_unchecked"));
    }
    if (!first) {
      await ctx.audit("request.replay", "refused", undefined, { event: event.eventId, kind: event.kind });
      throw new NotAllowedError(msg("error.replayed"));
    }
  }

  return {
    translator: (locale) => translator(langOf(locale, settings.lang)),
    async complete(actor, kind, prefix, options = {}) {
      const principal = await loadPrincipal(sql, actor, settings.admins);
      if (!canSomewhere(principal, "view")) return [];
      if (kind === "runbook") return completeRunbooks(sql, principal, prefix);
      if (kind === "params") return completeParams(sql, principal, String(options.runbook ?? ""), prefix);
      // Only hosts the actor may see: suggestions are a listing too. Read per keystroke, so only the names that fit.
      return (await hostsStartingWith(sql, prefix.toLowerCase()))
        .filter((h) => can(principal, "view", h))
        .map((h) => h.name)
        .slice(0, 25);
    },
    async handle(received) {
      // Names the platform tells are kept as well as they can be stored; what a person typed is refused if it cannot be.
      const event = received.actor.name === undefined ? received : { ...received, actor: { ...received.actor, name: storable(received.actor.name) } };
      const ctx = contextFor(event);
      try {
        // Who is asking, and the hosts a command names, are read while the request is checked as
        // new: reads, and nothing acts on them before the checks (authorize.ts).
        ctx.principal().catch(() => {});
        const parsed = event.kind === "command" ? parseOf(event) : undefined;
        const target = parsed && "cmd" in parsed ? targetOf(parsed.cmd) : undefined;
        if (target !== undefined) ctx.targetHosts(target).catch(() => {});
        await acceptOnce(ctx, event);
        if (event.kind === "command") screenText(rawInput(event), MAX_COMMAND_CHARS);
        else if (event.kind === "form") for (const value of Object.values(event.values)) screenText(value, MAX_FORM_CHARS);
        else screenText(event.action, 1000);
        switch (event.kind) {
          case "command":
            return inLanguage(await command(ctx, event, parsed!), ctx.lang);
          case "form":
            return inLanguage(await form(ctx, event), ctx.lang);
          case "action":
            return inLanguage(await click(ctx, event), ctx.lang);
        }
      } catch (err) {
        return inLanguage({ kind: "private", view: errorView(err, log, ctx.t), refused: true }, ctx.lang);
      }
    },
  };
}
