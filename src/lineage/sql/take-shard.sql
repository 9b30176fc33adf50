-- One shard's head, locked for this transaction (waits while another holds it).
select shard, seq, hash from lineage_shard where shard = $1 for update
