-- testum's first schema: hosts and their encrypted credentials, jobs with a
-- task per host, and an append-only audit log.

create table secrets (
  id uuid primary key,
  -- which master key sealed `box` (see src/core/secret-box.ts)
  key_id text not null,
  box bytea not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table hosts (
  id bigserial primary key,
  name text not null unique check (name ~ '^[a-z0-9._-]{1,63}$'),
  address text not null check (address <> ''),
  port integer not null default 22 check (port between 1 and 65535),
  username text not null check (username <> ''),
  -- key: a private key in `secret_id`; password: a password in `secret_id`;
  -- identity: testum's own key pair
  auth_method text not null check (auth_method in ('key', 'password', 'identity')),
  secret_id uuid references secrets (id),
  -- SHA256 fingerprint of the pinned host key, as `ssh-keygen -l` prints it
  host_key_fingerprint text check (host_key_fingerprint ~ '^SHA256:[A-Za-z0-9+/]{43}$'),
  host_key_pinned_at timestamptz,
  tags jsonb not null default '{}'::jsonb,
  last_seen_at timestamptz,
  created_at timestamptz not null default now(),
  created_by text not null,
  check ((auth_method = 'identity') = (secret_id is null))
);

create table jobs (
  id bigserial primary key,
  status text not null default 'queued'
    check (status in ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost')),
  command text not null,
  -- the target as the user wrote it
  target text not null,
  requested_by text not null,
  requested_by_name text,
  -- chat references, opaque to core and owned by the chat adapter
  conversation text not null,
  thread text,
  parent_message text,
  live_message text,
  -- unguessable token of the log link
  log_token text not null unique,
  timeout_ms integer not null check (timeout_ms > 0),
  options jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  heartbeat_at timestamptz,
  worker text,
  error text
);

create index jobs_running_heartbeat on jobs (heartbeat_at) where status = 'running';
create index jobs_conversation on jobs (conversation, id desc);

create table job_tasks (
  job_id bigint not null references jobs (id) on delete cascade,
  host_name text not null,
  host_id bigint references hosts (id) on delete set null,
  status text not null default 'queued'
    check (status in ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost', 'skipped')),
  exit_code integer,
  signal text,
  error_code text,
  error text,
  started_at timestamptz,
  finished_at timestamptz,
  log_key text,
  log_bytes bigint,
  log_lines bigint,
  -- the last lines of output, sanitised, for summaries in chat
  tail text,
  primary key (job_id, host_name)
);

create table audit (
  id bigserial primary key,
  at timestamptz not null default now(),
  actor text not null,
  actor_name text,
  channel text,
  action text not null,
  target text,
  outcome text not null,
  detail jsonb not null default '{}'::jsonb
);

create index audit_at on audit (at desc);

-- The audit log only grows.
create function audit_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'the audit log is append-only';
end
$$;

create trigger audit_append_only before update or delete on audit
  for each statement execute function audit_append_only();

create trigger audit_no_truncate before truncate on audit
  for each statement execute function audit_append_only();
