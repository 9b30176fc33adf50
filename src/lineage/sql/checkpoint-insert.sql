insert into lineage_checkpoint (n, at, entries, heads, prev_hash, hash) values ($1, $2, $3, $4::jsonb, $5, $6)
