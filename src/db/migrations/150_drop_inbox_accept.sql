-- Issue 15: the group commit of migration 004 (`inbox_accept`, text[]/bytea[] arrays) is dead.
-- Nothing calls it: the intake's group commit calls `inbox_accept_rows` (migration 008, with trace
-- context since 040, on lineage shards since 140; src/inbox/group-commit.sql), which stays.
-- Migration 008 already dropped 004's signature; this drops whatever function of that name is
-- left in the schema (any signature, e.g. one created by hand), so the schema holds only what runs.
do $$
declare
  f regprocedure;
begin
  for f in
    select p.oid::regprocedure from pg_proc p
     where p.proname = 'inbox_accept' and p.pronamespace = current_schema()::regnamespace
  loop
    execute format('drop function %s', f);
  end loop;
end;
$$;
