-- testum's database roles for production: the owner applies migrations and
-- owns every table; testum itself runs as testum_app, which may read and
-- write its tables but only INSERT and SELECT on the audit log and its
-- anchors. Not owning them, it can neither disable their append-only
-- triggers nor delete or rewrite rows.
--
-- Run as a superuser, once, in the testum database:
--   psql -d testum -v app_password="'…'" -f sql/least-privilege.sql
-- Then apply migrations as the owner (DATABASE_URL=postgres://testum_owner@…/testum
-- npx testum migrate) and run testum with DATABASE_URL=postgres://testum_app:…@…/testum.
-- After a release that adds tables, run this file again.

do $$ begin
  if not exists (select from pg_roles where rolname = 'testum_owner') then create role testum_owner login; end if;
  if not exists (select from pg_roles where rolname = 'testum_app') then create role testum_app login; end if;
end $$;
alter role testum_app password :app_password;

alter database testum owner to testum_owner;
alter schema public owner to testum_owner;
grant connect on database testum to testum_app;
grant usage on schema public to testum_app;

-- Existing tables and sequences belong to the owner.
do $$ declare t record; begin
  for t in select tablename from pg_tables where schemaname = 'public' loop
    execute format('alter table public.%I owner to testum_owner', t.tablename);
  end loop;
  for t in select sequencename from pg_sequences where schemaname = 'public' loop
    execute format('alter sequence public.%I owner to testum_owner', t.sequencename);
  end loop;
end $$;

grant select, insert, update, delete on all tables in schema public to testum_app;
grant usage, select on all sequences in schema public to testum_app;
-- The audit log and its anchors only grow.
revoke update, delete, truncate on audit, audit_anchors from testum_app;
-- Migrations stay the owner's: testum_app creates nothing.
revoke create on schema public from testum_app;
