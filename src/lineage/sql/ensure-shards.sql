-- The head rows of shards 0..S-1 (a shard with no entry yet: seq 0 and its genesis hash).
insert into lineage_shard (shard, seq, hash, entries, at)
  select u.shard, 0, u.genesis, 0, now() from unnest($1::integer[], $2::text[]) as u(shard, genesis)
on conflict (shard) do nothing
