-- The model registry's tables (model_version, model_alias, model_alias_history, model_audit,
-- migration 020): the only SQL on them (governance.ts).

-- name: insertVersion
insert into model_version (name, version, kind, sha256, onnx, remote_url, signature, mapping_version, card,
  source, status, created_by, validated_at, approved_at, approved_by, approval_reason, retrained_from)
values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::jsonb, $10, $11, $12, $13, $13, $14, $15, $16)
on conflict (name, version) do nothing

-- name: version
select name, version, kind, sha256, remote_url, signature, mapping_version, card, source, status,
       created_at, created_by, validated_at, validation, approved_at, approved_by, approval_reason, retired_at,
       retired_by, retrained_from
  from model_version where name = $1 and version = $2

-- name: versionBytes
select onnx from model_version where name = $1 and version = $2

-- name: versionsOf
select name, version, kind, sha256, remote_url, signature, mapping_version, card, source, status,
       created_at, created_by, validated_at, validation, approved_at, approved_by, approval_reason, retired_at,
       retired_by, retrained_from
  from model_version where name = $1 order by created_at, version

-- name: allVersions
select name, version, kind, sha256, remote_url, signature, mapping_version, card, source, status,
       created_at, created_by, validated_at, validation, approved_at, approved_by, approval_reason, retired_at,
       retired_by, retrained_from
  from model_version order by name, created_at, version

-- name: setValidated
update model_version set status = 'validated', validated_at = now(), validation = $3::jsonb
 where name = $1 and version = $2 and status in ('draft', 'validated')

-- name: recordFailedValidation
update model_version set validation = $3::jsonb where name = $1 and version = $2 and status = 'draft'

-- name: setApproved
update model_version set status = 'approved', approved_at = now(), approved_by = $3, approval_reason = $4
 where name = $1 and version = $2 and status = 'validated'

-- name: aliasesOfVersion
select alias from model_alias where name = $1 and version = $2

-- name: setRetired
update model_version set status = 'retired', retired_at = now(), retired_by = $3
 where name = $1 and version = $2 and status <> 'retired'

-- name: lockAliases
-- One model's alias moves one after another ($1: 'model-alias:<name>').
select pg_advisory_xact_lock(hashtext($1))

-- name: aliasVersion
select version from model_alias where name = $1 and alias = $2

-- name: deleteAlias
delete from model_alias where name = $1 and alias = $2

-- name: upsertAlias
insert into model_alias (name, alias, version, share, moved_at, moved_by) values ($1, $2, $3, $4, $5, $6)
on conflict (name, alias) do update set version = excluded.version, share = excluded.share,
  moved_at = excluded.moved_at, moved_by = excluded.moved_by

-- name: insertAliasMove
insert into model_alias_history (name, alias, version, from_version, share, at, by_principal, reason)
values ($1, $2, $3, $4, $5, $6, $7, $8) returning seq

-- name: aliases
-- Every alias, or ($1 not null) one model's.
select name, alias, version, share, moved_at, moved_by from model_alias
 where ($1::text is null or name = $1::text) order by name, alias

-- name: aliasHistory
select * from model_alias_history where name = $1 order by seq

-- name: aliasAt
select * from model_alias_history where name = $1 and alias = $2 and at <= $3 order by at desc, seq desc limit 1

-- name: insertAudit
insert into model_audit (principal, model, version, action, allowed, reason) values ($1, $2, $3, $4, $5, $6)

-- name: auditLog
-- Newest first, every model or ($1 not null) one, at most $2 entries.
select * from model_audit where ($1::text is null or model = $1::text) order by seq desc limit $2
