-- Inbox: every message accepted, stored before it is acknowledged.
create table inbox (
  message_id   text primary key,
  channel      text not null,
  sender       text not null,
  control_id   text not null,
  message_type text,
  sha256       text not null,
  raw          bytea not null,
  received_at  timestamptz not null,
  status       text not null default 'received',
  status_reason text,
  updated_at   timestamptz,
  unique (sender, control_id)
);
create index inbox_pending on inbox (received_at) where status = 'received';
create index inbox_control on inbox (control_id);

-- Lineage: append-only, hash-chained audit trail. Each entry's hash covers the previous hash.
create table lineage (
  seq        bigint primary key,
  message_id text not null,
  stage      text not null,
  at         timestamptz not null,
  detail     jsonb not null,
  prev_hash  text not null,
  hash       text not null
);
create index lineage_message on lineage (message_id, seq);

create function lineage_refuse_change() returns trigger language plpgsql as $$
begin
  raise exception 'lineage is append-only: % refused', tg_op;
end;
$$;
create trigger lineage_append_only before update or delete on lineage
  for each row execute function lineage_refuse_change();
create trigger lineage_no_truncate before truncate on lineage
  for each statement execute function lineage_refuse_change();
