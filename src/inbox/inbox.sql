-- The intake's statement-by-statement commit (inbox.ts): the path on PGlite, and on PostgreSQL
-- where the group commit (group-commit.sql) falls back.

-- name: insert
-- One tuple of nine parameters a message (`:rows`, see withRows in src/db/sql.ts); a sender's
-- control id already stored is left alone and not returned.
insert into inbox (message_id, channel, sender, control_id, message_type, sha256, raw, received_at, traceparent)
values :rows
on conflict (sender, control_id) do nothing
returning message_id, sender, control_id

-- name: existing
-- The message ids already stored for pairs of sender ($1) and control id ($2).
select message_id, sender, control_id from inbox
 where (sender, control_id) in (select * from unnest($1::text[], $2::text[]))
