-- The intake's group commit in one round trip (PostgreSQL): the caller has chained the `received`
-- lineage entries after the tail it last saw. Under the lineage chain lock (the same advisory lock
-- every chain writer takes), the function checks that tail is still the tail; if so it stores the
-- messages and their entries, else it stores nothing and answers the current tail so the caller can
-- chain again. A message already stored (same sender and control id) raises unique_violation and
-- the caller falls back to the statement-by-statement commit, which sorts out duplicates.
create or replace function inbox_accept(
  p_expected_seq bigint, p_expected_hash text,
  p_ids text[], p_channels text[], p_senders text[], p_control_ids text[], p_types text[],
  p_sha256 text[], p_raw bytea[], p_received timestamptz[],
  p_seq bigint[], p_detail jsonb[], p_prev text[], p_hash text[]
) returns table (outcome text, tail_seq bigint, tail_hash text) language plpgsql as $$
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
    select * from unnest(p_ids, p_channels, p_senders, p_control_ids, p_types, p_sha256, p_raw, p_received);
  insert into lineage (seq, message_id, stage, at, detail, prev_hash, hash)
    select u.seq, u.id, 'received', u.at, u.detail, u.prev, u.hash
      from unnest(p_seq, p_ids, p_received, p_detail, p_prev, p_hash) as u(seq, id, at, detail, prev, hash);
  return query select 'ok'::text, p_seq[array_length(p_seq, 1)], p_hash[array_length(p_hash, 1)];
end;
$$;
