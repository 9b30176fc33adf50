-- Per-patient feature state (table feature_state, migration 003): the only SQL on it (state.ts).

-- name: upsert
-- One statement: unnest the batch, upsert, and only where the stored value is not newer.
insert into feature_state as s
  (patient_key, model, feature, value, unit, observed_at, source_ref, source_unit, source_value, source_reference)
select $1, $2, v.feature, v.value, v.unit, v.observed_at, v.source_ref, v.source_unit, v.source_value, v.source_reference
  from unnest($3::text[], $4::float8[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::float8[], $10::text[])
    as v(feature, value, unit, observed_at, source_ref, source_unit, source_value, source_reference)
on conflict (patient_key, model, feature) do update set
  value = excluded.value, unit = excluded.unit, observed_at = excluded.observed_at,
  source_ref = excluded.source_ref, source_unit = excluded.source_unit,
  source_value = excluded.source_value, source_reference = excluded.source_reference, updated_at = now()
where s.observed_at <= excluded.observed_at

-- name: upsertMany
-- A batch of several patients and models (the batched pipeline): rows in key order, newest only.
insert into feature_state as s
  (patient_key, model, feature, value, unit, observed_at, source_ref, source_unit, source_value, source_reference)
select v.patient_key, v.model, v.feature, v.value, v.unit, v.observed_at, v.source_ref, v.source_unit, v.source_value, v.source_reference
  from unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::float8[], $10::text[])
    as v(patient_key, model, feature, value, unit, observed_at, source_ref, source_unit, source_value, source_reference)
on conflict (patient_key, model, feature) do update set
  value = excluded.value, unit = excluded.unit, observed_at = excluded.observed_at,
  source_ref = excluded.source_ref, source_unit = excluded.source_unit,
  source_value = excluded.source_value, source_reference = excluded.source_reference, updated_at = now()
where s.observed_at <= excluded.observed_at

-- name: snapshot
select feature, value, unit, observed_at, source_ref, source_unit, source_value, source_reference
  from feature_state where patient_key = $1 and model = $2 order by feature

-- name: snapshots
select patient_key, feature, value, unit, observed_at, source_ref, source_unit, source_value, source_reference
  from feature_state where patient_key = any($1::text[]) and model = $2 order by patient_key, feature

-- name: activePatients
-- Re-scoring: the patients of model $1 whose state changed since $2.
select distinct patient_key from feature_state where model = $1 and updated_at >= $2 order by patient_key
