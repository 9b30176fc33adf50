-- Issue 3: one patient's ORU results (and one sender's application ACKs) go in the order their
-- triggering messages were received, not the order their processing finished: messages are
-- processed concurrently, so a later message can reach the outbox first. Each row carries the
-- receipt time of its message; a row waits for every pending row of its key received before it.
alter table egress_outbox add column source_received_at timestamptz;
update egress_outbox o
   set source_received_at = coalesce((select i.received_at from inbox i where i.message_id = o.message_id),
                                     o.created_at);
alter table egress_outbox alter column source_received_at set not null;
alter table egress_outbox alter column source_received_at set default now();
drop index egress_outbox_pending;
create index egress_outbox_pending on egress_outbox (kind, destination, order_key, source_received_at, id)
  where status = 'pending';
