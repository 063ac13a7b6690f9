-- A chat message may belong to a schedule instead of a job: the approval
-- request of a risky schedule and the notes about its fires (refused,
-- owner gone, needs approval again) are rows of desired state too, posted
-- and edited by the same delivery loop, so adding a schedule or firing it
-- never waits for chat. Each row has exactly one owner; it goes with it.

alter table job_messages alter column job_id drop not null;
alter table job_messages add column schedule_id bigint references schedules (id) on delete cascade;
alter table job_messages add constraint job_messages_one_owner check (num_nonnulls(job_id, schedule_id) = 1);
alter table job_messages add constraint job_messages_schedule_slot unique (schedule_id, slot);
