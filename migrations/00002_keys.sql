-- testum's own SSH identity, the team's public keys, and where they are deployed.

create table identity_keys (
  id bigserial primary key,
  -- the OpenSSH public key line hosts put in authorized_keys
  public_key text not null,
  fingerprint text not null,
  -- the private half, sealed under the master key
  secret_id uuid not null references secrets (id),
  -- active: used to connect; next: being rolled out by a rotation; retired: no longer used
  state text not null check (state in ('active', 'next', 'retired')),
  created_at timestamptz not null default now(),
  retired_at timestamptz
);

create unique index identity_keys_one_active on identity_keys (state) where state = 'active';
create unique index identity_keys_one_next on identity_keys (state) where state = 'next';

create table team_keys (
  id bigserial primary key,
  name text not null unique check (name ~ '^[a-z0-9._-]{1,63}$'),
  type text not null,
  blob text not null,
  comment text not null default '',
  fingerprint text not null unique,
  created_by text not null,
  created_at timestamptz not null default now()
);

create table key_deployments (
  key_id bigint not null references team_keys (id) on delete cascade,
  host_id bigint not null references hosts (id) on delete cascade,
  deployed_by text not null,
  deployed_at timestamptz not null default now(),
  primary key (key_id, host_id)
);
