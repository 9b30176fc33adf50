-- Issue 5: the governed model registry. A version is immutable once registered (its bytes, hash,
-- signature, card and bound mapping); only its lifecycle columns move forward
-- (draft -> validated -> approved -> retired). Aliases point at versions; every move is history.
create table model_version (
  name             text not null,
  version          text not null,
  kind             text not null check (kind in ('onnx', 'remote')),
  sha256           text not null,
  onnx             bytea,
  remote_url       text,
  signature        jsonb not null,
  mapping_version  text,
  card             jsonb not null,
  source           text not null,
  status           text not null default 'draft'
                   check (status in ('draft', 'validated', 'approved', 'retired')),
  created_at       timestamptz not null default now(),
  created_by       text not null,
  validated_at     timestamptz,
  validation       jsonb,
  approved_at      timestamptz,
  approved_by      text,
  approval_reason  text,
  retired_at       timestamptz,
  retired_by       text,
  primary key (name, version)
);

create function model_version_immutable() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE' then
    raise exception 'model versions are never deleted: retire them';
  end if;
  if new.name <> old.name or new.version <> old.version or new.kind <> old.kind
     or new.sha256 <> old.sha256 or new.onnx is distinct from old.onnx
     or new.remote_url is distinct from old.remote_url or new.signature <> old.signature
     or new.mapping_version is distinct from old.mapping_version or new.card <> old.card then
    raise exception 'model version %@% is immutable', old.name, old.version;
  end if;
  return new;
end;
$$;
create trigger model_version_immutable before update or delete on model_version
  for each row execute function model_version_immutable();

-- Where each alias points now (share: the fraction of patients a canary scores).
create table model_alias (
  name     text not null,
  alias    text not null check (alias in ('production', 'shadow', 'canary')),
  version  text not null,
  share    double precision not null default 1,
  moved_at timestamptz not null,
  moved_by text not null,
  primary key (name, alias),
  foreign key (name, version) references model_version (name, version)
);

-- Every alias move, append-only: which version was live at time T.
create table model_alias_history (
  seq          bigserial primary key,
  name         text not null,
  alias        text not null,
  version      text,
  from_version text,
  share        double precision,
  at           timestamptz not null,
  by_principal text not null,
  reason       text
);
create index model_alias_history_at on model_alias_history (name, alias, at);

-- Governance audit: every decision and every denial (who, what, on which model, allowed or not).
create table model_audit (
  seq        bigserial primary key,
  at         timestamptz not null default now(),
  principal  text not null,
  model      text,
  version    text,
  action     text not null,
  allowed    boolean not null,
  reason     text
);
create index model_audit_model on model_audit (model, at);

create function model_append_only() returns trigger language plpgsql as $$
begin
  raise exception '% is append-only: % refused', tg_table_name, tg_op;
end;
$$;
create trigger model_alias_history_append_only before update or delete on model_alias_history
  for each row execute function model_append_only();
create trigger model_audit_append_only before update or delete on model_audit
  for each row execute function model_append_only();
