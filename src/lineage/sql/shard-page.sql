select * from lineage where shard = $1 and seq > $2 order by seq limit $3
