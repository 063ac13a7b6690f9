import { decodeAction } from "./actions.js";
import { recordAudit } from "./audit.js";
import type { Actor, Inbound, Reply } from "./chat.js";
import { helpLines, parseCommandOptions, parseCommandText, type Command } from "./commands.js";
import { NotAllowedError, UsageError } from "./errors.js";
import type { AppDeps, Handler, HandlerContext, Handlers } from "./handlers/context.js";
import { hostsAdd, hostsList, hostsRepin, hostsRm, hostsSecret, hostsShow, hostsTag, hostsTest, hostsUntag, submitHostSecret } from "./handlers/hosts.js";
import { identity, keysAdd, keysDeploy, keysList, keysRevoke, keysRm, keysStatus } from "./handlers/keys.js";
import { run } from "./handlers/run.js";
import { listHosts } from "./hosts.js";
import { looksLikePrivateKey, PRIVATE_KEY_REFUSAL } from "./public-keys.js";
import { errorView, listing, privateReply } from "./replies.js";
import { truncate } from "./tail.js";

export type { AppDeps, AppSettings } from "./handlers/context.js";

export interface App {
  /** Answers one inbound chat event. Never throws: errors become private replies. */
  handle(event: Inbound): Promise<Reply>;
  /**
   * Suggestions while the user types an argument (Discord autocomplete):
   * host names starting with `prefix`, only for actors allowed to use testum.
   */
  complete(actor: Actor, kind: "host" | "target", prefix: string): Promise<string[]>;
}

const help: Handler<"help"> = async (_ctx, _event, cmd) =>
  privateReply(listing(cmd.topic ? `testum help: ${cmd.topic}` : "testum commands", helpLines(cmd.topic)));

const HANDLERS: Handlers = {
  run,
  "hosts.list": hostsList,
  "hosts.show": hostsShow,
  "hosts.add": hostsAdd,
  "hosts.rm": hostsRm,
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
  help,
};

function rawInput(event: Extract<Inbound, { kind: "command" }>): string {
  return event.input.type === "text" ? event.input.text : `${event.input.path.join(" ")} ${Object.values(event.input.options).join(" ")}`;
}

/**
 * The chain every chat request goes through, in one place:
 * identify → screen → parse → authorize → act → audit.
 */
export function createApp(deps: AppDeps): App {
  const { sql, log, settings } = deps;

  function contextFor(event: Inbound): HandlerContext {
    return {
      ...deps,
      audit: (action, outcome, target, detail) =>
        recordAudit(sql, { actor: event.actor.id, actorName: event.actor.name, channel: event.conversation, action, target, outcome, detail }),
    };
  }

  function isAllowed(actor: Actor): boolean {
    return settings.admins.includes(actor.id);
  }

  function authorize(event: Inbound): void {
    if (!isAllowed(event.actor)) {
      throw new NotAllowedError(
        `you are not allowed to use testum. Your identity is ${event.actor.id}: ask an administrator to add it to TESTUM_ADMINS.`,
      );
    }
  }

  function parse(event: Extract<Inbound, { kind: "command" }>): Command {
    return event.input.type === "text" ? parseCommandText(event.input.text) : parseCommandOptions(event.input.path, event.input.options);
  }

  async function command(ctx: HandlerContext, event: Extract<Inbound, { kind: "command" }>): Promise<Reply> {
    // A private key pasted into chat is refused before anything reads, logs or audits the text.
    if (looksLikePrivateKey(rawInput(event))) {
      await ctx.audit("command", "refused", undefined, { reason: "private key material in the command; not stored" });
      throw new UsageError(PRIVATE_KEY_REFUSAL);
    }
    let cmd: Command;
    try {
      cmd = parse(event);
    } catch (err) {
      await ctx.audit("command", "invalid", undefined, { input: truncate(rawInput(event), 500), reason: (err as Error).message });
      throw err;
    }
    try {
      authorize(event);
    } catch (err) {
      await ctx.audit(cmd.name, "refused", "target" in cmd ? cmd.target : "host" in cmd ? cmd.host : undefined, { reason: (err as Error).message });
      throw err;
    }
    return (HANDLERS[cmd.name] as Handler<typeof cmd.name>)(ctx, event, cmd);
  }

  async function form(ctx: HandlerContext, event: Extract<Inbound, { kind: "form" }>): Promise<Reply> {
    authorize(event);
    const action = decodeAction(event.action);
    if (action?.kind === "host-secret") {
      return submitHostSecret(ctx, event.actor.id, event.conversation, action.host, event.values, deps.remote.checkPrivateKey);
    }
    throw new UsageError("That form is not known to this version of testum. Nothing was stored.");
  }

  return {
    async complete(actor, _kind, prefix) {
      if (!isAllowed(actor)) return [];
      const lower = prefix.toLowerCase();
      return (await listHosts(sql)).map((h) => h.name).filter((n) => n.startsWith(lower)).slice(0, 25);
    },
    async handle(event) {
      const ctx = contextFor(event);
      try {
        switch (event.kind) {
          case "command":
            return await command(ctx, event);
          case "form":
            return await form(ctx, event);
          case "action":
            authorize(event);
            throw new UsageError("That button is not known to this version of testum. Nothing was done.");
        }
      } catch (err) {
        return privateReply(errorView(err, log));
      }
    },
  };
}
