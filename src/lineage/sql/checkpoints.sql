select n, at, entries, heads, prev_hash, hash from lineage_checkpoint where n > $1 order by n limit $2
