import { recordAudit } from "./audit.js";
import type { Actor, ChatDirectory, Inbound, Reply } from "./chat.js";
import { helpLines, parseCommandOptions, parseCommandText, type Command } from "./commands.js";
import type { Sql } from "./db.js";
import { isTestumError, NotAllowedError, TestumError } from "./errors.js";
import { getHost, listHosts } from "./hosts.js";
import { renderLive, renderParent } from "./job-view.js";
import { createJob, finishJob, getJob, listTasks, setChatRefs, type Job } from "./jobs.js";
import type { JobQueue, Logger } from "./ports.js";
import { errorView, listing, privateReply, privateText } from "./replies.js";
import { truncate } from "./tail.js";

export interface AppSettings {
  /** Identities that may use testum (until roles exist, everyone else is refused). */
  readonly admins: readonly string[];
  readonly publicUrl: string;
  readonly jobTimeoutMs: number;
}

export interface AppDeps {
  readonly sql: Sql;
  readonly chat: ChatDirectory;
  readonly queue: JobQueue;
  readonly log: Logger;
  readonly settings: AppSettings;
}

export interface App {
  /** Answers one inbound chat event. Never throws: errors become private replies. */
  handle(event: Inbound): Promise<Reply>;
  /**
   * Suggestions while the user types an argument (Discord autocomplete):
   * host names starting with `prefix`, only for actors allowed to use testum.
   */
  complete(actor: Actor, kind: "host" | "target", prefix: string): Promise<string[]>;
}

/**
 * The chain every chat request goes through, in one place:
 * identify → parse → authorize → act → audit.
 */
export function createApp(deps: AppDeps): App {
  const { sql, log, settings } = deps;

  async function audit(event: Inbound, action: string, outcome: string, target?: string, detail?: Record<string, unknown>) {
    await recordAudit(sql, {
      actor: event.actor.id,
      actorName: event.actor.name,
      channel: event.conversation,
      action,
      target,
      outcome,
      detail,
    });
  }

  function parse(event: Extract<Inbound, { kind: "command" }>): Command {
    return event.input.type === "text"
      ? parseCommandText(event.input.text)
      : parseCommandOptions(event.input.path, event.input.options);
  }

  function authorize(event: Inbound): void {
    if (!settings.admins.includes(event.actor.id)) {
      throw new NotAllowedError(
        `you are not allowed to use testum. Your identity is ${event.actor.id}: ask an administrator to add it to TESTUM_ADMINS.`,
      );
    }
  }

  async function run(event: Inbound, cmd: Extract<Command, { name: "run" }>): Promise<Reply> {
    const host = await getHost(sql, cmd.target);
    const job = await createJob(sql, {
      command: cmd.command,
      target: cmd.target,
      hosts: [{ id: host.id, name: host.name }],
      requestedBy: event.actor.id,
      requestedByName: event.actor.name,
      conversation: event.conversation,
      timeoutMs: cmd.timeoutMs ?? settings.jobTimeoutMs,
    });
    await audit(event, "job.request", "accepted", host.name, { job: job.id, command: cmd.command });
    await publish(job, host.name);
    return privateText(`✅ Job #${job.id} queued on ${host.name}. Output follows in the thread.`, "success");
  }

  /** Posts the job's parent and live messages, then queues it. */
  async function publish(job: Job, hostName: string): Promise<void> {
    const chat = deps.chat.adapterFor(job.conversation);
    let parent: string | undefined;
    try {
      const tasks = await listTasks(sql, job.id);
      const start = await chat.startThread(
        job.conversation,
        renderParent(job, tasks, settings.publicUrl),
        truncate(`#${job.id} ${hostName}: ${job.command}`, 100),
      );
      parent = start.message;
      const live = await chat.post(
        start.thread,
        renderLive(job, hostName, { lines: [], omitted: 0, lineCount: 0, status: "queued", updatedAt: Date.now() }, settings.publicUrl),
      );
      await setChatRefs(sql, job.id, { thread: start.thread, parentMessage: start.message, liveMessage: live });
      await deps.queue.enqueue(job.id);
    } catch (err) {
      const reason = isTestumError(err) ? err.message : "the job could not be queued (the job queue is unavailable)";
      log.error({ err, job: job.id }, "job could not be published");
      await finishJob(sql, job.id, "failed", `not run: ${reason}`);
      await recordAudit(sql, { actor: "system", action: "job.end", target: hostName, outcome: "failed", channel: job.conversation, detail: { job: job.id, reason } });
      if (parent) {
        const failed = await getJob(sql, job.id);
        await chat.edit(parent, renderParent(failed, await listTasks(sql, job.id), settings.publicUrl)).catch(() => {});
      }
      throw new TestumError("chat_unavailable", `job #${job.id} was not run: ${reason}`, { cause: err });
    }
  }

  async function hostsList(): Promise<Reply> {
    const hosts = await listHosts(sql);
    if (hosts.length === 0) {
      return privateText("No hosts yet. An administrator adds them with: npx testum hosts add NAME --host ADDRESS --user USER --key-file PATH");
    }
    const lines = hosts.map((h) => {
      const tags = Object.entries(h.tags).map(([k, v]) => `${k}=${v}`).join(",");
      const key = h.hostKeyFingerprint ? "key pinned" : "key not pinned yet";
      const seen = h.lastSeenAt ? `seen ${h.lastSeenAt.toISOString().slice(0, 16).replace("T", " ")}` : "never seen";
      return `${h.name.padEnd(20)} ${`${h.username}@${h.address}:${h.port}`.padEnd(32)} ${key.padEnd(18)} ${seen}${tags ? `  ${tags}` : ""}`;
    });
    return privateReply(listing(`${hosts.length} host${hosts.length === 1 ? "" : "s"}`, lines));
  }

  async function dispatch(event: Inbound, cmd: Command): Promise<Reply> {
    switch (cmd.name) {
      case "run":
        return run(event, cmd);
      case "hosts.list":
        return hostsList();
      case "help":
        return privateReply(listing(cmd.topic ? `testum help: ${cmd.topic}` : "testum commands", helpLines(cmd.topic)));
    }
  }

  return {
    async complete(actor, _kind, prefix) {
      if (!settings.admins.includes(actor.id)) return [];
      const hosts = await listHosts(sql);
      const lower = prefix.toLowerCase();
      return hosts.map((h) => h.name).filter((n) => n.startsWith(lower)).slice(0, 25);
    },
    async handle(event) {
      try {
        if (event.kind !== "command") {
          authorize(event);
          return privateText("That button or form is not known to this version of testum. Nothing was done.", "warning");
        }
        let cmd: Command;
        try {
          cmd = parse(event);
        } catch (err) {
          await audit(event, "command", "invalid", undefined, { input: describeInput(event), reason: (err as Error).message });
          throw err;
        }
        try {
          authorize(event);
        } catch (err) {
          await audit(event, cmd.name, "refused", "target" in cmd ? cmd.target : undefined, { reason: (err as Error).message });
          throw err;
        }
        try {
          return await dispatch(event, cmd);
        } catch (err) {
          if (isTestumError(err) && cmd.name === "run" && err.code === "unknown_host") {
            await audit(event, "job.request", "refused", cmd.target, { reason: err.message, command: cmd.command });
          }
          throw err;
        }
      } catch (err) {
        return privateReply(errorView(err, log));
      }
    },
  };
}

function describeInput(event: Extract<Inbound, { kind: "command" }>): string {
  return truncate(event.input.type === "text" ? event.input.text : `${event.input.path.join(" ")} ${JSON.stringify(event.input.options)}`, 500);
}
