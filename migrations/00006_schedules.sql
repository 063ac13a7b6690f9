-- Scheduled reports: cron jobs that post to the channel they were made in,
-- run once per fire however many testum processes run, with the owner's rights.

create table schedules (
  id bigserial primary key,
  name text not null,
  cron text not null,
  timezone text not null default 'UTC',
  target text not null,
  command text not null,
  -- the conversation reports go to (adapter-owned reference)
  channel text not null,
  owner text not null,
  owner_name text,
  -- the owner's platform groups when the schedule was made (roles may be bound to them)
  owner_groups jsonb not null default '[]'::jsonb,
  on_change boolean not null default false,
  timeout_ms integer not null check (timeout_ms > 0),
  paused boolean not null default false,
  -- approval of a risky command: pending until approved; covers this hash only
  approval_state text not null default 'none' check (approval_state in ('none', 'pending', 'approved', 'rejected')),
  approval_reasons jsonb not null default '[]'::jsonb,
  approved_hash text,
  approved_by text,
  approval_message text,
  last_fire_at timestamptz,
  last_output_hash text,
  consecutive_failures integer not null default 0,
  muted boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- One row per fire: the insert that wins decides which process runs it.
create table schedule_fires (
  schedule_id bigint not null references schedules (id) on delete cascade,
  fire_at timestamptz not null,
  job_id bigint references jobs (id) on delete set null,
  outcome text,
  fired_by text not null,
  primary key (schedule_id, fire_at)
);

alter table jobs add column schedule_id bigint references schedules (id) on delete set null;
