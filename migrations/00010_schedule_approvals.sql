-- A risky schedule takes as many distinct approvers as a risky job
-- (TESTUM_APPROVALS_REQUIRED when it was made), each recorded once.

alter table schedules add column approvals_required integer not null default 1 check (approvals_required between 1 and 10);

create table schedule_approvals (
  schedule_id bigint not null references schedules(id) on delete cascade,
  approver text not null,
  approver_name text,
  at timestamptz not null default now(),
  primary key (schedule_id, approver)
);
