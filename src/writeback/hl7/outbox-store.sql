-- The egress outbox (table egress_outbox): the only SQL on it (outbox-store.ts). Rows are claimed
-- with a lease (FOR UPDATE SKIP LOCKED), one order key's rows strictly one after another.

-- name: insert
-- One `insertRow` tuple a row (withRows in src/db/sql.ts); a control id already queued for the
-- destination is left alone.
insert into egress_outbox (kind, message_id, destination, order_key, control_id, body, detail,
                           source_received_at)
values :rows
on conflict (kind, destination, control_id) do nothing

-- name: insertRow
-- Ordered by when the triggering message was received (processing may finish out of order).
($1, $2, $3, $4, $5, $6, $7::jsonb, coalesce((select received_at from inbox where message_id = $2), now()))

-- name: claim
-- $1 kind, $2 destinations, $3 how many, $4 lease owner, $5 lease in ms.
update egress_outbox o
   set lease_owner = $4, lease_until = now() + make_interval(secs => $5::float8 / 1000)
 where o.id in (
   select c.id from egress_outbox c
    where c.kind = $1 and c.status = 'pending' and c.destination = any($2::text[])
      and c.next_attempt_at <= now()
      and (c.lease_until is null or c.lease_until < now())
      and not exists (
        select 1 from egress_outbox p
         where p.kind = c.kind and p.destination = c.destination and p.order_key = c.order_key
           and p.status = 'pending' and (p.source_received_at, p.id) < (c.source_received_at, c.id))
    order by c.source_received_at, c.id
    limit $3
    for update skip locked)
returning o.id, o.message_id, o.destination, o.control_id, o.body, o.detail, o.attempts,
          (select i.traceparent from inbox i where i.message_id = o.message_id) as traceparent

-- name: next
-- Pending rows, and how long until the next row that could be claimed is due (ms): not held by a
-- process, and first of its order key (rows behind a head in flight or in back-off wait for it).
select (select count(*)::int from egress_outbox
         where kind = $1 and status = 'pending' and destination = any($2::text[])) as pending,
       (select greatest(0, extract(epoch from (min(c.next_attempt_at) - now())) * 1000)::float8
          from egress_outbox c
         where c.kind = $1 and c.status = 'pending' and c.destination = any($2::text[])
           and (c.lease_until is null or c.lease_until < now())
           and not exists (
             select 1 from egress_outbox p
              where p.kind = c.kind and p.destination = c.destination and p.order_key = c.order_key
                and p.status = 'pending'
                and (p.source_received_at, p.id) < (c.source_received_at, c.id))) as due_ms

-- name: settle
-- The row's state after an attempt, only while $2 holds its lease; $7 the back-off in ms (null: keep).
update egress_outbox
   set status = $3, attempts = $4, last_reason = $5, last_ack = $6,
       next_attempt_at = case when $7::float8 is null then next_attempt_at
                              else now() + make_interval(secs => $7::float8 / 1000) end,
       body = case when $3 = 'sent' then null else body end,
       lease_owner = null, lease_until = null, updated_at = now()
 where id = $1 and lease_owner = $2

-- name: release
-- Hands back the leases of owner $1 (one row: $2; all: null).
update egress_outbox set lease_owner = null, lease_until = null
 where lease_owner = $1 and ($2::bigint is null or id = $2::bigint)

-- name: unknownDestinations
select distinct destination from egress_outbox
 where kind = $1 and status = 'pending' and not (destination = any($2::text[]))

-- name: pruneBodies
-- Retention: drops the body of at most $2 rows given up or refused before $1.
with p as (
  select id from egress_outbox
   where body is not null and status in ('gave-up', 'refused') and updated_at < $1
   order by id limit $2 for update skip locked)
update egress_outbox o set body = null from p
 where o.id = p.id returning o.message_id, o.kind, o.destination

-- name: numbers
-- The console's overview: rows by kind, destination and status, and the oldest pending.
select kind, destination, status, count(*)::int as n,
       min(created_at) filter (where status = 'pending') as oldest
  from egress_outbox group by kind, destination, status
