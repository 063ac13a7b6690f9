-- A queued job whose queue entry is gone (Redis restarted without its data, a process stopped
-- between writing the job and queueing it, or a worker that took the entry but could not start
-- the job) is handed to the queue again. Each process checks the jobs queued for more than a
-- minute; queue_checked_at keeps two processes from checking the same job in the same minute.

alter table jobs add column queue_checked_at timestamptz;

create index jobs_queued on jobs (created_at) where status = 'queued';
