-- FHIR input (issue 4): patient links, resource versions seen, subscriptions and their events.

-- A FHIR patient reference (`Patient/123`, `urn:uuid:...`) of one source, resolved to the
-- identifier feature state is keyed by. Filled when a Patient arrives or is fetched.
create table fhir_patient_link (
  source     text not null,
  reference  text not null,
  assigner   text,
  value      text not null,
  id_type    text,
  birth_date text,
  updated_at timestamptz not null default now(),
  primary key (source, reference)
);

-- Every resource version (Type/id + meta.versionId, or its content hash) and the message that
-- first carried it: a later copy of the same version is not processed again.
create table fhir_resource_seen (
  source     text not null,
  resource   text not null,
  version    text not null,
  message_id text not null,
  seen_at    timestamptz not null default now(),
  primary key (source, resource, version)
);

-- Subscriptions (Backport IG) whose notifications the gateway receives.
create table fhir_subscription (
  source              text not null,
  subscription        text not null,
  topic               text,
  filter_criteria     text,
  payload             text,
  heartbeat_seconds   integer,
  status              text,
  last_event_number   bigint not null default 0,
  events_since_start  bigint,
  handshake_at        timestamptz,
  last_heartbeat_at   timestamptz,
  last_notification_at timestamptz,
  heartbeat_alerted   boolean not null default false,
  gaps                integer not null default 0,
  replays             integer not null default 0,
  created_at          timestamptz not null default now(),
  primary key (source, subscription)
);
