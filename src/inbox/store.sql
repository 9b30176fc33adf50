-- The inbox table's reads and writes for everyone but the intake's commit (inbox.sql) and the
-- pipeline's own (processing.ts): the stages after intake ask the inbox store, not the table.

-- name: stalled
-- The sweeper: messages still `received` that have not changed for longer than $1 seconds.
select message_id, coalesce(updated_at, received_at) as changed from inbox
 where status = 'received' and coalesce(updated_at, received_at) < now() - make_interval(secs => $1)
 order by received_at limit $2

-- name: finished
-- Processing wait: which of the messages $1 are no longer `received`, and their status.
select message_id, status from inbox where message_id = any($1::text[]) and status <> 'received'

-- name: byControlId
select message_id from inbox where sender = $1 and control_id = $2

-- name: raw
-- Raw bodies (sealed as stored; null once pruned) of the messages $1.
select message_id, channel, raw from inbox where message_id = any($1::text[])

-- name: replayCandidates
-- What a replay filter matches: $1 message or control ids, $2/$3 received from/to, $4 a model named
-- in the message's lineage (the one read of lineage here: a filter, not a write), $5 statuses.
-- A criterion passed as null does not apply.
select i.message_id, i.status, (i.raw is null) as pruned from inbox i
 where ($1::text[] is null or i.message_id = any($1::text[]) or i.control_id = any($1::text[]))
   and ($2::timestamptz is null or i.received_at >= $2::timestamptz)
   and ($3::timestamptz is null or i.received_at < $3::timestamptz)
   and ($4::text is null
        or exists (select 1 from lineage l where l.message_id = i.message_id and l.detail->>'model' = $4::text))
   and i.status = any($5::text[])
 order by i.received_at, i.message_id limit $6

-- name: resetForReplay
-- Back to `received` (count one more replay) for those of $1 that are finished and still have a body.
with old as (
  select message_id, status from inbox
   where message_id = any($1::text[]) and status <> 'received' and raw is not null
   for update)
update inbox i set status = 'received', status_reason = null, replays = i.replays + 1, updated_at = $2
  from old where i.message_id = old.message_id
returning i.message_id, old.status as previous

-- name: statusCounts
select status, count(*)::int as n from inbox where message_id = any($1::text[]) group by status

-- name: pruneRaw
-- Retention: drops the raw body of at most $2 finished messages received before $1.
with p as (
  select message_id from inbox
   where raw is not null and status <> 'received' and received_at < $1
   order by received_at limit $2 for update skip locked)
update inbox i set raw = null, raw_pruned_at = $3 from p
 where i.message_id = p.message_id returning i.message_id

-- name: receivedPerMinute
select date_trunc('minute', received_at) as m, count(*)::int as n from inbox
 where received_at >= $1 group by 1

-- name: finishedPerMinute
select date_trunc('minute', updated_at) as m, status, count(*)::int as n from inbox
 where updated_at >= $1 and status <> 'received' group by 1, 2

-- name: endToEnd
select count(*)::int as n,
       percentile_cont(array[0.5, 0.9, 0.99]::float8[]) within group (
         order by extract(epoch from updated_at - received_at)) as q
  from inbox where updated_at >= $1 and status = 'processed' and replays = 0

-- name: byStatus
select status, count(*)::int as n from inbox group by status

-- name: bySender
select sender, status, count(*)::int as n, max(received_at) as last from inbox
 where received_at >= $1 group by sender, status

-- name: backlog
select count(*)::int as n, min(received_at) as oldest from inbox where status = 'received'
