-- The group commit in one round trip (group-commit.ts): migration 008's function, as 040 left it.

-- name: acceptRows
select outcome, tail_seq, tail_hash from inbox_accept_rows($1, $2, $3, $4)
