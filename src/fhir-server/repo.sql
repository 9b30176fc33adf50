-- The embedded FHIR server's tables (fhir_resource, fhir_resource_history, fhir_search_token,
-- migration 002): the statements of repo.ts. Searches are compiled from FHIR search parameters
-- (search.ts) and stay in code.

-- name: read
select r.resource_type, r.id, r.version_id, r.last_updated, r.content
  from fhir_resource r where resource_type = $1 and id = $2

-- name: vread
select r.resource_type, r.id, r.version_id, r.last_updated, r.content
  from fhir_resource_history r where resource_type = $1 and id = $2 and version_id = $3

-- name: lock
-- Conditional operations on the same criteria, one after another until the transaction ends.
select pg_advisory_xact_lock(hashtext($1))

-- name: put
-- A new version only when the content changed (nothing returned when it did not).
insert into fhir_resource as r (resource_type, id, version_id, last_updated, seq, content)
values ($1, $2, 1, clock_timestamp(), nextval('fhir_seq'), $3::jsonb)
on conflict (resource_type, id) do update
  set version_id = r.version_id + 1, last_updated = clock_timestamp(), seq = nextval('fhir_seq'),
      content = excluded.content
  where r.content is distinct from excluded.content
returning r.resource_type, r.id, r.version_id, r.last_updated, r.content

-- name: history
insert into fhir_resource_history (resource_type, id, version_id, last_updated, content)
values ($1, $2, $3, $4, $5::jsonb)

-- name: deleteTokens
delete from fhir_search_token where resource_type = $1 and id = $2

-- name: insertTokens
-- The search index of the current version: one token a (param, system, value) of $3, $4, $5.
insert into fhir_search_token (resource_type, id, param, system, value)
select $1, $2, t.param, t.system, t.value from unnest($3::text[], $4::text[], $5::text[]) as t(param, system, value)
