-- Feature state: per patient, model and feature, the newest value by observation time.
-- Values are in the feature's target unit; the source unit/value are kept for lineage.
create table feature_state (
  patient_key      text not null,
  model            text not null,
  feature          text not null,
  value            double precision not null,
  unit             text not null,
  observed_at      timestamptz not null,
  source_ref       text not null,
  source_unit      text,
  source_value     double precision,
  source_reference text,
  updated_at       timestamptz not null default now(),
  primary key (patient_key, model, feature)
);
