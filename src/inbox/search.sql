-- The inbox as GET /messages searches it (search.ts): one page, newest first, each row with its
-- dead letter if any. A criterion passed as null does not apply.

-- name: page
-- $1 control id; $2 sender exactly or $3 an application's prefix ('APP|'); $4 message type exactly
-- or $5 a prefix ('ORU^'); $6 statuses; $7 patient digests; $8 a model; $9/$10 received from/to;
-- $11/$12 the cursor (received_at in microseconds, message id); $13 the page size.
select i.message_id, i.control_id, i.sender, i.channel, i.message_type, i.status, i.status_reason,
       i.received_at, (extract(epoch from i.received_at) * 1000000)::bigint::text as received_us,
       i.updated_at, i.replays, i.models, (i.raw is not null) as raw_available,
       d.stage as dl_stage, d.failed_at as dl_failed_at, d.resolved_at as dl_resolved_at
  from inbox i left join dead_letter d on d.message_id = i.message_id
 where ($1::text is null or i.control_id = $1::text)
   and ($2::text is null or i.sender = $2::text)
   and ($3::text is null or starts_with(i.sender, $3::text))
   and ($4::text is null or i.message_type = $4::text)
   and ($5::text is null or starts_with(i.message_type, $5::text))
   and ($6::text[] is null or i.status = any($6::text[]))
   and ($7::text[] is null or i.patient_digests && $7::text[])
   and ($8::text is null or i.models @> array[$8::text])
   and ($9::timestamptz is null or i.received_at >= $9::timestamptz)
   and ($10::timestamptz is null or i.received_at < $10::timestamptz)
   and ($11::bigint is null
        or (i.received_at, i.message_id)
           < (timestamptz 'epoch' + $11::bigint * interval '1 microsecond', $12::text))
 order by i.received_at desc, i.message_id desc
 limit $13

-- name: one
select i.message_id, i.control_id, i.sender, i.channel, i.message_type, i.status, i.status_reason,
       i.received_at, '0' as received_us, i.updated_at, i.replays, i.models,
       (i.raw is not null) as raw_available,
       d.stage as dl_stage, d.failed_at as dl_failed_at, d.resolved_at as dl_resolved_at
  from inbox i left join dead_letter d on d.message_id = i.message_id
 where i.message_id = $1
