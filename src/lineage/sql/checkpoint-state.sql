-- The heads of all non-empty shards (committed, and this transaction's own) and the newest checkpoint.
select (select coalesce(json_agg(json_build_object('shard', shard, 'seq', seq, 'hash', hash) order by shard), '[]'::json)
          from lineage_shard where seq > 0) as heads,
       (select row_to_json(c) from (select n, hash, entries from lineage_checkpoint order by n desc limit 1) c) as last
