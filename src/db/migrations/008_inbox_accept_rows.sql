-- The one-round-trip group commit of migration 004, with the batch passed as one JSON array of rows
-- and the raw bodies as one bytea (each row names its offset and length): binary and JSON
-- parameters cost a fraction of what text[]/bytea[] arrays cost to encode and parse, which is most
-- of a large batch's commit time. Same contract as inbox_accept: under the lineage chain lock, store
-- the messages and their `received` entries if the caller's tail is still the tail, else answer the
-- current tail and store nothing; a duplicate raises unique_violation.
drop function if exists inbox_accept(bigint, text, text[], text[], text[], text[], text[], text[], bytea[],
  timestamptz[], bigint[], jsonb[], text[], text[]);

create or replace function inbox_accept_rows(p_expected_seq bigint, p_expected_hash text, p_rows jsonb, p_raw bytea)
  returns table (outcome text, tail_seq bigint, tail_hash text) language plpgsql as $$
declare
  t_seq bigint;
  t_hash text;
begin
  perform pg_advisory_xact_lock(727001);
  select l.seq, l.hash into t_seq, t_hash from lineage l order by l.seq desc limit 1;
  t_seq := coalesce(t_seq, 0);
  t_hash := coalesce(t_hash, repeat('0', 64));
  if t_seq <> p_expected_seq or t_hash <> p_expected_hash then
    return query select 'stale'::text, t_seq, t_hash;
    return;
  end if;
  insert into inbox (message_id, channel, sender, control_id, message_type, sha256, raw, received_at)
    select r.id, r.channel, r.sender, r.control_id, r.type, r.sha256, substring(p_raw from r.off + 1 for r.len),
           r.received
      from jsonb_to_recordset(p_rows) as r(id text, channel text, sender text, control_id text, type text,
           sha256 text, received timestamptz, off integer, len integer);
  insert into lineage (seq, message_id, stage, at, detail, prev_hash, hash)
    select (e->>'seq')::bigint, e->>'id', 'received', (e->>'received')::timestamptz, e->'detail', e->>'prev',
           e->>'hash'
      from jsonb_array_elements(p_rows) as e;
  return query select 'ok'::text, (p_rows->-1->>'seq')::bigint, p_rows->-1->>'hash';
end;
$$;
