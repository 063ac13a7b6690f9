-- Runbooks: agreed commands with typed parameters, run by name. Each has its
-- own target, the role it takes to run it and its approval setting.

create table runbooks (
  id bigserial primary key,
  name text not null unique check (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  target text not null,
  -- the command template: shell text with {name} / {name:type} parameters
  command text not null,
  description text not null default '',
  approval text not null default 'auto' check (approval in ('auto', 'always', 'reviewed')),
  role text not null default 'operator' check (role in ('viewer', 'operator', 'approver', 'admin')),
  timeout_ms integer check (timeout_ms between 1000 and 604800000),
  created_by text not null,
  created_at timestamptz not null default now(),
  updated_by text not null,
  updated_at timestamptz not null default now()
);

-- A schedule may run a runbook (as it is at each fire) with fixed values.
alter table schedules add column runbook text, add column runbook_params jsonb;

-- free-form: may run commands of one's own where TESTUM_MODE=allowlist.
alter table role_bindings drop constraint role_bindings_role_check;
alter table role_bindings add constraint role_bindings_role_check check (role in ('viewer', 'operator', 'free-form', 'approver', 'admin'));
