-- Lineage in shards (issue 17, item 4): many writers append at once, each to a shard it alone holds
-- for its transaction (`select ... for update skip locked` on the shard's head row), instead of every
-- append in the cluster taking one advisory lock. Each shard is a hash chain of its own (seq per
-- shard, prev_hash, the same entry hash as before); a checkpoint chain records all shard heads now
-- and then. See README, "Lineage chain: design and proof sketch".
--
-- The single chain before this migration becomes shard 0's prefix unchanged (same seq, same hashes,
-- shard 0's genesis is the old one), so every old entry verifies as before; the migration then seals
-- it with checkpoint 1.

-- A global insertion order across shards (for a message's stages and the AuditEvent export), from a
-- sequence: no lock. Old entries keep their seq as id.
alter table lineage add column shard integer not null default 0;
alter table lineage add column id bigint;
alter table lineage disable trigger lineage_append_only;
update lineage set id = seq;
alter table lineage enable trigger lineage_append_only;
create sequence lineage_id_seq owned by lineage.id;
select setval('lineage_id_seq', coalesce((select max(id) from lineage), 0) + 1, false);
alter table lineage alter column id set default nextval('lineage_id_seq');
alter table lineage alter column id set not null;
alter table lineage drop constraint lineage_pkey;
alter table lineage add primary key (shard, seq);
create unique index lineage_id on lineage (id);
drop index lineage_message;
create index lineage_message on lineage (message_id, id);

-- The head of every shard, kept by the database after every insert into lineage (whichever code path
-- inserts): removing a shard's newest entries shows, as the single head anchor did. A writer locks
-- its shard's row for its transaction; that row lock is the shard's append lock.
create table lineage_shard (
  shard   integer primary key check (shard >= 0),
  seq     bigint not null,
  hash    text not null,
  entries bigint not null,
  at      timestamptz not null
);
insert into lineage_shard (shard, seq, hash, entries, at)
  select 0, coalesce(h.seq, 0), coalesce(h.hash, repeat('0', 64)), coalesce(h.entries, 0), now()
    from (select 1) one left join lineage_head h on h.id = 1;

drop trigger lineage_head_track on lineage;
drop function lineage_track_head();
create function lineage_track_shards() returns trigger language plpgsql as $$
begin
  insert into lineage_shard as s (shard, seq, hash, entries, at)
    select distinct on (n.shard) n.shard, n.seq, n.hash, count(*) over (partition by n.shard), now()
      from new_rows n order by n.shard, n.seq desc
  on conflict (shard) do update
    set seq = greatest(s.seq, excluded.seq),
        hash = case when excluded.seq > s.seq then excluded.hash else s.hash end,
        entries = s.entries + excluded.entries,
        at = excluded.at;
  return null;
end;
$$;
create trigger lineage_shard_track after insert on lineage
  referencing new table as new_rows for each statement execute function lineage_track_shards();
create trigger lineage_shard_keep before delete on lineage_shard
  for each row execute function lineage_refuse_change();
create trigger lineage_shard_no_truncate before truncate on lineage_shard
  for each statement execute function lineage_refuse_change();

-- Checkpoints: every so many entries (or seconds) one writer records the heads of all shards. The
-- checkpoints are a hash chain of their own: hash = sha256(prev_hash || '\n' || canonical JSON of
-- {n, at, entries, heads}), heads = [{shard, seq, hash}] of the non-empty shards, by shard.
create table lineage_checkpoint (
  n         bigint primary key,
  at        timestamptz not null,
  entries   bigint not null,
  heads     jsonb not null,
  prev_hash text not null,
  hash      text not null
);
create trigger lineage_checkpoint_append_only before update or delete on lineage_checkpoint
  for each row execute function lineage_refuse_change();
create trigger lineage_checkpoint_no_truncate before truncate on lineage_checkpoint
  for each statement execute function lineage_refuse_change();

-- lineage_head now anchors the checkpoint chain (seq = the newest checkpoint's n, hash its hash,
-- entries the entries it covers), kept by the database after every checkpoint insert, so removing
-- the newest checkpoints shows too.
create function lineage_track_checkpoint() returns trigger language plpgsql as $$
declare
  c record;
begin
  select n, hash, entries into c from new_rows order by n desc limit 1;
  update lineage_head
     set seq = greatest(seq, c.n),
         hash = case when c.n > seq then c.hash else hash end,
         entries = case when c.n > seq then c.entries else entries end,
         at = now()
   where id = 1;
  return null;
end;
$$;
create trigger lineage_checkpoint_track after insert on lineage_checkpoint
  referencing new table as new_rows for each statement execute function lineage_track_checkpoint();
update lineage_head set seq = 0, hash = repeat('0', 64), entries = 0, at = now() where id = 1;

-- Seal the single chain: checkpoint 1 over shard 0's head, when there is one. The canonical JSON is
-- written out here exactly as src/lineage/chain.ts's canonicalJson writes it (keys sorted).
insert into lineage_checkpoint (n, at, entries, heads, prev_hash, hash)
  select 1, c.at, c.seq, jsonb_build_array(jsonb_build_object('shard', 0, 'seq', c.seq, 'hash', c.hash)),
         repeat('0', 64),
         encode(sha256(convert_to(repeat('0', 64) || E'\n' ||
           '{"at":"' || to_char(c.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') ||
           '","entries":' || c.seq ||
           ',"heads":[{"hash":"' || c.hash || '","seq":' || c.seq || ',"shard":0}],"n":1}', 'UTF8')), 'hex')
    from (select date_trunc('milliseconds', now()) as at, s.seq, s.hash from lineage_shard s where s.shard = 0) c
   where c.seq > 0;

-- The intake's one-round-trip group commit (migration 040), per shard: the caller chained the
-- `received` entries after the tail it last saw of shard p_shard. If that shard is free (not locked
-- by another writer's transaction) and its tail is still the one seen, the messages and entries are
-- stored. Otherwise nothing is stored and the answer names a shard and its tail to chain after:
-- the same shard when only its tail moved; the lowest free shard when this one is busy; when all
-- p_shards are busy, it waits for p_shard. A duplicate raises unique_violation, as before.
drop function if exists inbox_accept_rows(bigint, text, jsonb, bytea);
create or replace function inbox_accept_rows(p_shard integer, p_shards integer, p_expected_seq bigint,
  p_expected_hash text, p_rows jsonb, p_raw bytea)
  returns table (outcome text, tail_shard integer, tail_seq bigint, tail_hash text) language plpgsql as $$
declare
  t_shard integer;
  t_seq bigint;
  t_hash text;
begin
  select s.seq, s.hash into t_seq, t_hash from lineage_shard s where s.shard = p_shard for update skip locked;
  if not found then
    select s.shard, s.seq, s.hash into t_shard, t_seq, t_hash from lineage_shard s
     where s.shard < p_shards order by s.shard limit 1 for update skip locked;
    if found then
      return query select 'stale'::text, t_shard, t_seq, t_hash;
      return;
    end if;
    select s.seq, s.hash into t_seq, t_hash from lineage_shard s where s.shard = p_shard for update;
    if not found then
      return query select 'stale'::text, 0, s.seq, s.hash from lineage_shard s where s.shard = 0;
      return;
    end if;
  end if;
  if t_seq <> p_expected_seq or t_hash <> p_expected_hash then
    return query select 'stale'::text, p_shard, t_seq, t_hash;
    return;
  end if;
  insert into inbox (message_id, channel, sender, control_id, message_type, sha256, raw, received_at, traceparent)
    select r.id, r.channel, r.sender, r.control_id, r.type, r.sha256, substring(p_raw from r.off + 1 for r.len),
           r.received, r.traceparent
      from jsonb_to_recordset(p_rows) as r(id text, channel text, sender text, control_id text, type text,
           sha256 text, received timestamptz, off integer, len integer, traceparent text);
  insert into lineage (shard, seq, message_id, stage, at, detail, prev_hash, hash)
    select p_shard, (e->>'seq')::bigint, e->>'id', 'received', (e->>'received')::timestamptz, e->'detail',
           e->>'prev', e->>'hash'
      from jsonb_array_elements(p_rows) as e;
  return query select 'ok'::text, p_shard, (p_rows->-1->>'seq')::bigint, p_rows->-1->>'hash';
end;
$$;
