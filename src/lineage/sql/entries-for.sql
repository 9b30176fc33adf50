-- A message's entries in the order they were stored, across shards.
select * from lineage where message_id = $1 order by id
