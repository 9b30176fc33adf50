-- Issue 14: message search (GET /messages) and the record of every view of a raw message.

-- Keyset pagination newest first, and the filters the console and `gateway messages search` use.
-- A b-tree is read backwards as well as forwards, so (received_at, message_id) serves "newest first".
create index inbox_received on inbox (received_at, message_id);
create index inbox_sender_received on inbox (sender, received_at);
create index inbox_type_received on inbox (message_type, received_at);
create index inbox_status_received on inbox (status, received_at);
-- When a message finished (processed / ignored / failed per minute on the console's overview).
create index inbox_updated on inbox (updated_at);

-- Filled when a message finishes, in the same statement that sets its status: the models its
-- lineage names, and keyed digests (HMAC-SHA256, key below) of its patient identifiers, never the
-- identifiers themselves.
alter table inbox add column models text[];
alter table inbox add column patient_digests text[];
create index inbox_models on inbox using gin (models);
create index inbox_patient_digests on inbox using gin (patient_digests);

-- The models of messages finished before this migration, from their lineage.
update inbox i
   set models = m.models
  from (select l.message_id, array_agg(distinct l.detail->>'model') as models
          from lineage l where l.detail ? 'model' group by l.message_id) m
 where m.message_id = i.message_id;

-- The key of the patient digests: random, made once per database, so a digest cannot be looked up
-- in a table computed elsewhere.
create table message_search_key (
  id      integer primary key check (id = 1),
  hmac_key text not null
);
insert into message_search_key (id, hmac_key)
  values (1, encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text
                                      || clock_timestamp()::text, 'UTF8')), 'hex'));

-- Every view of a raw message (scope phi:read): who, when, which message, through which route.
-- Append-only, like the lineage; each view is also a `viewed` entry in the message's lineage.
create table phi_access (
  seq        bigserial primary key,
  at         timestamptz not null,
  principal  text not null,
  message_id text not null references inbox (message_id),
  action     text not null,
  client     text
);
create index phi_access_message on phi_access (message_id, at);
create index phi_access_at on phi_access (at);
create trigger phi_access_append_only before update or delete on phi_access
  for each row execute function model_append_only();
create trigger phi_access_no_truncate before truncate on phi_access
  for each statement execute function model_append_only();
