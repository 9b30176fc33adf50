-- A batch of chained entries of one shard in one statement (the trigger moves the shard's head).
insert into lineage (shard, seq, message_id, stage, at, detail, prev_hash, hash)
  select $1::integer, u.*
    from unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::text[], $8::text[])
      as u(seq, message_id, stage, at, detail, prev_hash, hash)
returning id, seq
