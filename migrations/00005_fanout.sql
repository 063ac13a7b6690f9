-- Many hosts per job: cancel requests, output fingerprints for grouping
-- results, and the job report.

alter table jobs
  add column cancel_requested_at timestamptz,
  add column cancelled_by text,
  -- kind of job: a shell command, or a script uploaded to each host
  add column kind text not null default 'command' check (kind in ('command', 'script')),
  -- the job report (every host's status, exit code, duration) in the log store
  add column report_key text;

alter table job_tasks
  -- SHA-256 of the whole output, so hosts with identical output group together
  add column output_hash text;

create index job_tasks_job_status on job_tasks (job_id, status);
