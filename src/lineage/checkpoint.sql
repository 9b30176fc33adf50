-- The lineage chain's runtime SQL used by checkpoint.ts (tables lineage, lineage_shard, lineage_checkpoint,
-- lineage_head: only src/lineage/ reads and writes them).

-- name: checkpointInsert
insert into lineage_checkpoint (n, at, entries, heads, prev_hash, hash) values ($1, $2, $3, $4::jsonb, $5, $6)

-- name: checkpointLock
-- One checkpoint writer at a time; the others skip (never wait).
select pg_try_advisory_xact_lock(727002) as got

-- name: checkpointState
-- The heads of all non-empty shards (committed, and this transaction's own) and the newest checkpoint.
select (select coalesce(json_agg(json_build_object('shard', shard, 'seq', seq, 'hash', hash) order by shard), '[]'::json)
          from lineage_shard where seq > 0) as heads,
       (select row_to_json(c) from (select n, hash, entries from lineage_checkpoint order by n desc limit 1) c) as last
