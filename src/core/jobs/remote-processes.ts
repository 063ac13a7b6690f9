import { noteInThread } from "./lifecycle.js";
import type { ChatDirectory } from "../chat/chat.js";
import type { Sql } from "../db.js";
import { getHostsById } from "../hosts/hosts.js";
import { translator } from "../chat/i18n.js";
import { mapLimit } from "../concurrency.js";
import type { Logger, RemoteAccess } from "../ports.js";
import { message } from "../chat/replies.js";
import { recordAudit } from "../access/audit.js";

/**
 * What each task started on its host (its TESTUM_TASK tag and its shell's
 * pid), recorded as commands start, so that a job whose worker died can have
 * its commands stopped: a lost job never leaves a command running unsupervised.
 */
export class ProcessRecorder {
  private pending: Array<[number, string, string, number]> = [];
  private scheduled = false;

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
  ) {}

  /** Notes a started command; written with the others that start in the same moment. */
  started(jobId: number, hostName: string, tag: string, pid: number): void {
    this.pending.push([jobId, hostName, tag, pid]);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const rows = this.pending;
      this.pending = [];
      void this.sql`
        update job_tasks as t set remote_tag = v.tag, remote_pid = v.pid::integer
        from (values ${this.sql(rows as never)}) as v (job_id, host_name, tag, pid)
        where t.job_id = v.job_id::bigint and t.host_name = v.host_name`.catch((err: unknown) => this.log.warn({ err }, "could not record which processes a command started"));
    });
  }
}

/** The outcome of stopping one host's leftover processes, for the thread. */
export interface StopOutcome {
  readonly host: string;
  readonly result: "stopped" | "none" | "still_running" | "unreachable";
  readonly problem?: string | undefined;
}

export interface StopDeps {
  readonly sql: Sql;
  readonly remote: RemoteAccess;
  readonly chat: ChatDirectory;
  readonly log: Logger;
}

/**
 * Stops what a lost job's commands left running on their hosts (TERM, then
 * KILL), and says in the job's thread, host by host, whether it worked.
 */
export async function stopLostJob(deps: StopDeps, job: { id: number; thread: string | null; conversation: string; target: string; lang: string }): Promise<StopOutcome[]> {
  const tasks = await deps.sql<Array<{ hostName: string; hostId: number | null; remoteTag: string; remotePid: number | null }>>`
    select host_name, host_id, remote_tag, remote_pid from job_tasks where job_id = ${job.id} and remote_tag is not null and status = 'lost'`;
  if (tasks.length === 0) return [];
  const hosts = new Map(
    (
      await getHostsById(
        deps.sql,
        tasks.map((t) => t.hostId).filter((id): id is number => id !== null),
      )
    ).map((h) => [h.id, h]),
  );
  const outcomes = await mapLimit(tasks, 16, async (task): Promise<StopOutcome> => {
    const host = task.hostId === null ? undefined : hosts.get(task.hostId);
    if (!host) return { host: task.hostName, result: "unreachable", problem: "the host was removed" };
    try {
      const { found, left } = await deps.remote.stopTask(host, task.remoteTag, task.remotePid ?? undefined);
      return { host: task.hostName, result: found === 0 ? "none" : left === 0 ? "stopped" : "still_running" };
    } catch (err) {
      return { host: task.hostName, result: "unreachable", problem: (err as Error).message };
    }
  });
  await recordAudit(deps.sql, {
    actor: "system",
    channel: job.conversation,
    action: "job.stop_leftovers",
    target: job.target,
    outcome: outcomes.every((o) => o.result === "stopped" || o.result === "none") ? "stopped" : "incomplete",
    detail: { job: job.id, hosts: outcomes },
  });
  const t = translator(job.lang === "ru" ? "ru" : "en");
  const lines = outcomes.map((o) => t(`reaper.remote.${o.result}`, { host: o.host, problem: o.problem ?? "" }));
  const ok = outcomes.every((o) => o.result === "stopped" || o.result === "none");
  // Said in the job's thread when chat takes it.
  await noteInThread(deps.sql, job.id, "leftovers", { ...message(lines.join("\n"), undefined, ok ? "neutral" : "warning"), lang: t.lang });
  return outcomes;
}
