-- A job's links (its logs, report and job page) can be revoked by its
-- requester or an admin: from then on they answer 410 Gone.
alter table jobs
  add column links_revoked_at timestamptz,
  add column links_revoked_by text;
