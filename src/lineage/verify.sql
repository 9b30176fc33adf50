-- The lineage chain's runtime SQL used by verify.ts (tables lineage, lineage_shard, lineage_checkpoint,
-- lineage_head: only src/lineage/ reads and writes them).

-- name: checkpointAnchor
select seq, hash, entries from lineage_head where id = 1

-- name: checkpoints
select n, at, entries, heads, prev_hash, hash from lineage_checkpoint where n > $1 order by n limit $2

-- name: count
select count(*)::bigint as n from lineage

-- name: orphans
-- Messages stored without any lineage entry (all of theirs removed).
select message_id from inbox i
 where not exists (select 1 from lineage l where l.message_id = i.message_id)
 order by received_at limit 10

-- name: shardHeads
select shard, seq, hash, entries from lineage_shard order by shard

-- name: shardPage
select * from lineage where shard = $1 and seq > $2 order by seq limit $3
