-- One checkpoint writer at a time; the others skip (never wait).
select pg_try_advisory_xact_lock(727002) as got
