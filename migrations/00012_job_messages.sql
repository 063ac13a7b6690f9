-- The chat messages a job owns (its parent in the channel, the live output,
-- the approval request, notes in its thread), each as its desired state:
-- the newest view to show. Writing a job's state never waits for chat; a
-- delivery loop in every testum process posts or edits each row until the
-- platform shows its newest version. One process at a time holds a row
-- (lease_owner / lease_until), so a message has one request in flight.

create table job_messages (
  id bigserial primary key,
  job_id bigint not null references jobs (id) on delete cascade,
  -- parent | live | approval | note:<name>
  slot text not null,
  platform text not null,
  -- where a thread start is posted
  conversation text not null,
  -- the message whose thread this one is posted in (null: it starts the thread)
  in_thread_of bigint references job_messages (id) on delete cascade,
  title text,
  view jsonb not null,
  version integer not null default 1,
  delivered_version integer not null default 0,
  -- when the newest view was produced (delivery notes how far behind chat is)
  state_at timestamptz not null default now(),
  -- the adapter's references once posted
  message text,
  thread text,
  -- not tried again before this (a rate limit, or backoff after a failure)
  due_at timestamptz not null default now(),
  -- edits of one message are spaced; a final view does not wait for the spacing
  next_edit_at timestamptz not null default now(),
  final boolean not null default false,
  failures integer not null default 0,
  given_up boolean not null default false,
  last_error text,
  lease_owner text,
  lease_until timestamptz,
  created_at timestamptz not null default now(),
  delivered_at timestamptz,
  unique (job_id, slot)
);

create index job_messages_pending on job_messages (due_at) where delivered_version < version and not given_up;
create index job_messages_thread on job_messages (in_thread_of) where in_thread_of is not null;
