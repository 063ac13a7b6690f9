-- Tamper-evident audit log: every row carries a hash over the previous row's
-- hash and its own canonical content (see src/core/audit.ts). `seq` numbers
-- rows without gaps, so a removed row shows as a jump.

alter table audit add column seq bigint unique;
alter table audit add column prev_hash text;
alter table audit add column hash text;
