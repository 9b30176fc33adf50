select seq, hash, entries from lineage_head where id = 1
