-- The lineage chain's runtime SQL used by store.ts (tables lineage, lineage_shard, lineage_checkpoint,
-- lineage_head: only src/lineage/ reads and writes them).

-- name: byControlId
select message_id from inbox where control_id = $1 order by received_at

-- name: ensureShards
-- The head rows of shards 0..S-1 (a shard with no entry yet: seq 0 and its genesis hash).
insert into lineage_shard (shard, seq, hash, entries, at)
  select u.shard, 0, u.genesis, 0, now() from unnest($1::integer[], $2::text[]) as u(shard, genesis)
on conflict (shard) do nothing

-- name: entriesFor
-- A message's entries in the order they were stored, across shards.
select * from lineage where message_id = $1 order by id

-- name: insert
-- A batch of chained entries of one shard in one statement (the trigger moves the shard's head).
insert into lineage (shard, seq, message_id, stage, at, detail, prev_hash, hash)
  select $1::integer, u.*
    from unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::text[], $8::text[])
      as u(seq, message_id, stage, at, detail, prev_hash, hash)
returning id, seq

-- name: recordSource
select message_id, channel, control_id, sender, message_type, sha256, received_at, status
  from inbox where message_id = $1

-- name: takeFreeShard
-- The lowest shard no other transaction holds, locked for this one (its append lock).
select shard, seq, hash from lineage_shard where shard < $1 order by shard limit 1 for update skip locked

-- name: takeShard
-- One shard's head, locked for this transaction (waits while another holds it).
select shard, seq, hash from lineage_shard where shard = $1 for update
