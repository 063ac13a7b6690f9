-- The local playground: a chat channel kept by testum itself, for trying it
-- without Slack or Discord.

create table playground_messages (
  id bigserial primary key,
  conversation text not null,
  -- the parent message's id for a reply in a thread
  thread bigint references playground_messages (id) on delete cascade,
  -- set for a private answer: only this identity sees it
  private_to text,
  view jsonb not null,
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index playground_messages_conversation on playground_messages (conversation, id);
