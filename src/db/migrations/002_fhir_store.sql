-- Embedded FHIR R4 store. `content` is the resource without meta.versionId / meta.lastUpdated,
-- which are kept in columns and merged back on read.
create sequence fhir_seq;

create table fhir_resource (
  resource_type text not null,
  id            text not null,
  version_id    integer not null,
  last_updated  timestamptz not null,
  seq           bigint not null,
  content       jsonb not null,
  primary key (resource_type, id)
);
create index fhir_resource_updated on fhir_resource (resource_type, last_updated, seq);

create table fhir_resource_history (
  resource_type text not null,
  id            text not null,
  version_id    integer not null,
  last_updated  timestamptz not null,
  content       jsonb not null,
  primary key (resource_type, id, version_id)
);

-- Search index: one row per (param, system, value) of the current version of a resource.
-- Tokens (identifier, code): system + value. References (subject, patient, target, device):
-- system null, value `Type/id`. Reference identifiers: param `subject:identifier` etc.
create table fhir_search_token (
  resource_type text not null,
  id            text not null,
  param         text not null,
  system        text,
  value         text not null
);
create index fhir_search_token_lookup on fhir_search_token (resource_type, param, value);
create index fhir_search_token_owner on fhir_search_token (resource_type, id);
