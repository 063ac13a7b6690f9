-- The audit chain's head, anchored every few minutes and at shutdown: `seq`
-- and `hash` of the newest row, signed (HMAC-SHA256) with a key derived from
-- the master key, which the database does not hold. Rows removed after the
-- last anchor are then noticed by `testum audit verify`, and nobody holding
-- only database credentials can forge an anchor for a rewritten chain.

create table audit_anchors (
  id bigserial primary key,
  seq bigint not null,
  hash text not null,
  at timestamptz not null default now(),
  mac text not null
);

create trigger audit_anchors_append_only before update or delete on audit_anchors
  for each statement execute function audit_append_only();

create trigger audit_anchors_no_truncate before truncate on audit_anchors
  for each statement execute function audit_append_only();
