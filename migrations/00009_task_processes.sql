-- What a task started on its host: the TESTUM_TASK tag every process of the
-- command carries, and the pid of the command's shell. A job marked lost (its
-- worker died) has these processes stopped by the reaper.

alter table job_tasks add column remote_tag text, add column remote_pid integer;
