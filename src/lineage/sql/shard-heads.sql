select shard, seq, hash, entries from lineage_shard order by shard
