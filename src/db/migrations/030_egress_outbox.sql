-- Issue 3: durable MLLP egress. One row per (job, destination): ORU^R01 results and enhanced-mode
-- application ACKs wait here until their destination acknowledges them, across restarts, and with
-- several gateway processes on one database each row is sent by one process (a lease).

create table egress_outbox (
  id              bigserial primary key,
  -- oru: model results; app-ack: an application ACK (MSH-16) of a received message.
  kind            text not null check (kind in ('oru', 'app-ack')),
  -- The triggering message: every attempt is a lineage entry of it.
  message_id      text not null,
  destination     text not null,
  -- Rows of one kind, destination and key go strictly in order (id order). A SHA-256 of the
  -- patient identifier (oru) or of the sender (app-ack): no identifier in clear.
  order_key       text not null,
  -- MSH-10 of the message sent; the same on every attempt, so a resend is recognisable.
  control_id      text not null,
  -- The HL7 text (it names the patient): sealed like inbox.raw when a key is configured
  -- (src/security/raw-cipher.ts); null once delivered.
  body            bytea,
  body_key_id     text generated always as (
    case when substring(body from 1 for 4) = '\x47574531'::bytea
         then encode(substring(body from 6 for get_byte(body, 4)), 'escape') end
  ) stored,
  -- Extra lineage detail without patient data (e.g. the code of an application ACK).
  detail          jsonb not null default '{}'::jsonb,
  status          text not null default 'pending'
                  check (status in ('pending', 'sent', 'gave-up', 'refused')),
  attempts        integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  -- Why the last attempt failed (transport error or ACK code); never message content.
  last_reason     text,
  last_ack        text,
  -- The process sending the row now, and until when its claim holds (a crashed process's rows are
  -- taken over once the lease ends).
  lease_owner     text,
  lease_until     timestamptz,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  unique (kind, destination, control_id)
);
create index egress_outbox_pending on egress_outbox (kind, destination, order_key, id)
  where status = 'pending';
create index egress_outbox_message on egress_outbox (message_id);
