-- Audit records written in the same transaction as the change they record, waiting for
-- their place in the chain (src/core/audit.ts). Writing one takes no lock, so a request
-- never waits for other requests' audit records; whichever process chains next moves
-- them into `audit`, in the order they were written.
create table audit_pending (
  id bigserial primary key,
  at timestamptz not null,
  actor text not null,
  actor_name text,
  channel text,
  action text not null,
  target text,
  outcome text not null,
  detail jsonb not null default '{}'::jsonb
);
