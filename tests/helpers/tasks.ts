import type { Task } from "../../src/core/jobs/jobs.js";

/** A finished task as the database would hold it, for rendering tests. */
export function task(i: number, status: Task["status"], exitCode: number | null, output: string): Task {
  return {
    jobId: 1,
    hostName: `host-${String(i).padStart(3, "0")}`,
    hostId: i,
    status,
    exitCode,
    signal: null,
    errorCode: null,
    error: null,
    startedAt: new Date(0),
    finishedAt: new Date(1000),
    logKey: "k",
    logBytes: 1,
    logLines: 1,
    tail: output,
    outputHash: output,
  };
}
