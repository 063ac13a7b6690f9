-- The chat messages not posted yet, per conversation, in the order they are
-- posted. The delivery loop asks, for every new post it may claim, whether
-- an older one in the same conversation still waits, and moves a
-- conversation's waiting posts back together when the platform says to wait;
-- without this index each question read every undelivered row of every
-- conversation, which under a burst of commands was most of the database's work.

create index job_messages_unposted on job_messages (conversation, (coalesce(job_id, 0)), id)
  where message is null and delivered_version < version and not given_up;
