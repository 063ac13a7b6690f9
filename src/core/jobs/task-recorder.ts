import { Batch } from "../concurrency.js";
import type { Sql } from "../db.js";
import type { TaskStatus } from "./jobs.js";

/** How a task ended, as its row records it. */
export interface TaskOutcome {
  readonly status: TaskStatus;
  readonly exitCode?: number | null | undefined;
  readonly signal?: string | null | undefined;
  readonly errorCode?: string | null | undefined;
  readonly error?: string | null | undefined;
  readonly logKey?: string | null | undefined;
  readonly logBytes?: number | null | undefined;
  readonly logLines?: number | null | undefined;
  readonly tail?: string | null | undefined;
  readonly outputHash?: string | null | undefined;
}

/**
 * Writes a job's task starts and outcomes, many hosts to a statement: what
 * arrives while a write is in flight goes in the next one. A job on 500
 * hosts then costs Postgres a few commits, not a thousand, and a single host
 * still gets its row written at once.
 */
export class TaskRecorder {
  private readonly starts = new Batch<string>((hosts) => this.writeStarts(hosts));
  private readonly finishes = new Batch<[string, TaskOutcome]>((rows) => this.writeFinishes(rows));

  constructor(
    private readonly sql: Sql,
    private readonly jobId: number,
  ) {}

  start(hostName: string): Promise<void> {
    return this.starts.add(hostName);
  }

  finish(hostName: string, outcome: TaskOutcome): Promise<void> {
    return this.finishes.add([hostName, outcome]);
  }

  private async writeStarts(hosts: string[]): Promise<void> {
    await this.sql`
      update job_tasks set status = 'running', started_at = now()
      where job_id = ${this.jobId} and host_name = any(${hosts}) and status = 'queued'`;
  }

  private async writeFinishes(rows: Array<[string, TaskOutcome]>): Promise<void> {
    const values = rows.map(([host, o]) => [
      host,
      o.status,
      o.exitCode ?? null,
      o.signal ?? null,
      o.errorCode ?? null,
      o.error ?? null,
      o.logKey ?? null,
      o.logBytes ?? null,
      o.logLines ?? null,
      o.tail ?? null,
      o.outputHash ?? null,
    ]);
    await this.sql`
      update job_tasks as t set
        status = v.status, exit_code = v.exit_code::integer, signal = v.signal,
        error_code = v.error_code, error = v.error,
        log_key = v.log_key, log_bytes = v.log_bytes::bigint,
        log_lines = v.log_lines::bigint, tail = v.tail, output_hash = v.output_hash,
        finished_at = now()
      from (values ${this.sql(values as never)}) as v (host_name, status, exit_code, signal, error_code, error, log_key, log_bytes, log_lines, tail, output_hash)
      where t.job_id = ${this.jobId} and t.host_name = v.host_name and t.status in ('queued', 'running')`;
  }
}
