-- The language a job's or a schedule's messages are written in: the
-- requester's, so everything posted for it in the channel reads alike.

alter table jobs add column lang text not null default 'en';
alter table schedules add column lang text not null default 'en';
