-- Issue 6: raw bodies encrypted at rest and pruned, a dead-letter store, replays, and an anchor of
-- the lineage head kept beside the chain.

-- Raw bodies: ciphertext (AES-256-GCM, see src/security/raw-cipher.ts) whose header names the key;
-- the key id is exposed as a column for rotation. `raw` is null once pruned; sha256 and lineage stay.
alter table inbox alter column raw drop not null;
alter table inbox add column raw_pruned_at timestamptz;
alter table inbox add column raw_key_id text generated always as (
  case when substring(raw from 1 for 4) = '\x47574531'::bytea
       then encode(substring(raw from 6 for get_byte(raw, 4)), 'escape') end
) stored;
alter table inbox add column replays integer not null default 0;
create index inbox_prunable on inbox (received_at) where raw is not null;

-- Dead letters: every message that ended `failed`, with why and at which stage. A replay that
-- ends well sets resolved_at; the row stays as history.
create table dead_letter (
  message_id  text primary key references inbox (message_id),
  failed_at   timestamptz not null,
  stage       text not null,
  reason      text not null,
  attempts    integer not null default 1,
  model       text,
  resolved_at timestamptz
);
create index dead_letter_open on dead_letter (failed_at) where resolved_at is null;

-- Replays requested through POST /replay: who asked, the filter, the messages chosen.
create table replay_request (
  replay_id    text primary key,
  requested_by text not null,
  requested_at timestamptz not null,
  filter       jsonb not null,
  message_ids  text[] not null
);

-- The lineage head, kept by the database itself after every insert into lineage (whichever code
-- path inserts), so removing the newest entries is caught: the chain ends before the anchor.
create table lineage_head (
  id      integer primary key check (id = 1),
  seq     bigint not null,
  hash    text not null,
  entries bigint not null,
  at      timestamptz not null
);
insert into lineage_head (id, seq, hash, entries, at)
  select 1, coalesce(max(seq), 0),
         coalesce((select hash from lineage order by seq desc limit 1), repeat('0', 64)),
         count(*), now()
    from lineage;

create function lineage_track_head() returns trigger language plpgsql as $$
declare
  n_seq bigint;
  n_hash text;
  n_count bigint;
begin
  select seq, hash into n_seq, n_hash from new_rows order by seq desc limit 1;
  select count(*) into n_count from new_rows;
  update lineage_head
     set seq = greatest(seq, n_seq),
         hash = case when n_seq > seq then n_hash else hash end,
         entries = entries + n_count,
         at = now()
   where id = 1;
  return null;
end;
$$;
create trigger lineage_head_track after insert on lineage
  referencing new table as new_rows for each statement execute function lineage_track_head();
create trigger lineage_head_keep before delete on lineage_head
  for each row execute function lineage_refuse_change();
create trigger lineage_head_no_truncate before truncate on lineage_head
  for each statement execute function lineage_refuse_change();
