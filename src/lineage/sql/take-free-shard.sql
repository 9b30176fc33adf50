-- The lowest shard no other transaction holds, locked for this one (its append lock).
select shard, seq, hash from lineage_shard where shard < $1 order by shard limit 1 for update skip locked
