-- Periodic jobs that must run once per cluster, not once per process (retention pruning, the
-- in-process re-scoring tick): each run is claimed here first. A claim succeeds when the last one
-- is older than the period's minimum gap, compared on the database's clock, so processes with
-- skewed clocks still agree; a process that dies simply stops claiming and another takes over.
create table if not exists cluster_runs (
  name text primary key,
  holder text not null,
  claimed_at timestamptz not null
);
