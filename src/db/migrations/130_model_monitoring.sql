-- Issue 13: model monitoring. One row per model input a version saw (production, shadow, canary),
-- written in the transaction that records the message as processed; the live window of a version
-- is its newest `monitoring.windowSize` rows, read by every process alike. Masks are bit i for
-- the feature at index i of the mapping (missing, imputed, offered by this message, refused for its
-- unit, refused as out of range).
create table monitor_sample (
  seq           bigserial primary key,
  model         text not null,
  version       text not null,
  alias         text not null,
  message_id    text not null,
  patient_key   text not null,
  source        text not null,
  at            timestamptz not null,
  recorded_at   timestamptz not null default now(),
  score         double precision,
  vals          double precision[] not null,
  missing       integer not null default 0,
  imputed       integer not null default 0,
  offered       integer not null default 0,
  unit_refused  integer not null default 0,
  out_of_range  integer not null default 0,
  -- When the outcome can be known (at + the outcome's horizon); null: no outcome definition.
  horizon_at    timestamptz,
  label         smallint,
  labelled_at   timestamptz,
  unique (model, version, message_id)
);
create index monitor_sample_window on monitor_sample (model, version, seq desc);
create index monitor_sample_due on monitor_sample (horizon_at) where label is null and score is not null;
create index monitor_sample_labelled on monitor_sample (model, version, seq desc) where label is not null;

-- What later messages said about a patient that outcome definitions look for (a creatinine, an
-- ICU transfer, a rapid-response code), kept until the predictions they label are labelled.
create table monitor_outcome_event (
  patient_key text not null,
  model       text not null,
  rule        text not null,
  at          timestamptz not null,
  value       double precision,
  message_id  text not null,
  primary key (patient_key, model, rule, at, message_id)
);

-- Alerts: one row per fingerprint, firing or resolved, with the evidence of its last change.
create table monitor_alert (
  fingerprint      text primary key,
  alertname        text not null,
  model            text not null,
  version          text not null,
  labels           jsonb not null,
  annotations      jsonb not null,
  status           text not null check (status in ('firing', 'resolved')),
  starts_at        timestamptz not null,
  ends_at          timestamptz,
  notified_at      timestamptz,
  evidence         jsonb not null
);
create index monitor_alert_model on monitor_alert (model, version, status);

-- Webhook notifications (Alertmanager v4 payloads, retrain-requested), retried until delivered.
create table monitor_outbox (
  id              bigserial primary key,
  webhook         text not null,
  url             text not null,
  kind            text not null,
  payload         jsonb not null,
  status          text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
  attempts        integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error      text,
  created_at      timestamptz not null default now(),
  sent_at         timestamptz
);
create index monitor_outbox_due on monitor_outbox (next_attempt_at) where status = 'pending';

-- Governed retraining: a request with its evidence and the de-identified dataset of its window.
create table retrain_request (
  id             text primary key,
  model          text not null,
  version        text not null,
  opened_at      timestamptz not null default now(),
  opened_by      text not null,
  trigger        text not null,
  reason         text not null,
  evidence       jsonb not null,
  rows           integer not null,
  dataset_csv    bytea not null,
  dataset_arrow  bytea not null,
  status         text not null default 'open'
);
create index retrain_request_model on retrain_request (model, opened_at);

alter table model_version add column retrained_from text references retrain_request (id);
