-- A host reached through another registered host (a bastion): testum
-- connects to the bastion with the bastion's own credential and pinned host
-- key, opens a TCP channel through it (direct-tcpip) and speaks SSH to this
-- host over that channel, checking this host's pinned key too. Several hops
-- are a chain: the bastion may itself have a bastion. A bastion that others
-- go through cannot be removed.
alter table hosts add column via_host_id bigint references hosts (id) on delete restrict;
alter table hosts add constraint hosts_via_not_self check (via_host_id is distinct from id);
create index hosts_via_host_id on hosts (via_host_id) where via_host_id is not null;
