-- The group commit in one round trip (group-commit.ts): migration 140's function (lineage shards).

-- name: acceptRows
-- $1 shard, $2 shards, $3/$4 the shard's tail as this process saw it, $5 the rows, $6 their bodies.
select outcome, tail_shard, tail_seq, tail_hash from inbox_accept_rows($1, $2, $3, $4, $5, $6)
