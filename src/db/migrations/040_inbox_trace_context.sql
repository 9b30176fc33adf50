-- Issue 14: the W3C trace context (`traceparent`) of the span that received a message, stored with
-- it, so that whichever process scores it (now, after a restart, or after a replay) continues the
-- same trace. Null when tracing is off. No patient data: two random ids and a flag.
alter table inbox add column traceparent text;

-- inbox_accept_rows (migration 008) with the trace context of each row.
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
  insert into inbox (message_id, channel, sender, control_id, message_type, sha256, raw, received_at, traceparent)
    select r.id, r.channel, r.sender, r.control_id, r.type, r.sha256, substring(p_raw from r.off + 1 for r.len),
           r.received, r.traceparent
      from jsonb_to_recordset(p_rows) as r(id text, channel text, sender text, control_id text, type text,
           sha256 text, received timestamptz, off integer, len integer, traceparent text);
  insert into lineage (seq, message_id, stage, at, detail, prev_hash, hash)
    select (e->>'seq')::bigint, e->>'id', 'received', (e->>'received')::timestamptz, e->'detail', e->>'prev',
           e->>'hash'
      from jsonb_array_elements(p_rows) as e;
  return query select 'ok'::text, (p_rows->-1->>'seq')::bigint, p_rows->-1->>'hash';
end;
$$;
