import type { Job, Task } from "../../src/core/jobs/jobs.js";
import type { Sql } from "../../src/core/db.js";
import { eventually } from "./testum.js";

/** Reads jobs the way the tests look at them. */
export function jobProbes(sql: Sql) {
  return {
    async job(id: number): Promise<Job> {
      const [job] = await sql<Job[]>`select * from jobs where id = ${id}`;
      return job!;
    },
    tasks: (id: number) => sql<Task[]>`select * from job_tasks where job_id = ${id}`,
    /**
     * Waits for a job to reach a final status, and for its parent and live
     * messages to exist in chat (their references are recorded as they are posted).
     */
    finished(id: number, timeoutMs = 30_000): Promise<Job> {
      return eventually(
        `job #${id} to finish`,
        async () => {
          const [job] = await sql<Job[]>`
            select * from jobs j where id = ${id}
              and not exists (select 1 from job_messages m where m.job_id = j.id and m.slot in ('parent', 'live') and m.message is null and not m.given_up)`;
          return job && !["awaiting_approval", "queued", "running"].includes(job.status) ? job : undefined;
        },
        timeoutMs,
      );
    },
  };
}
