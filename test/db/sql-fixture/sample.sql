-- A fixture for test/db/sql.test.ts: a file comment, then two statements.

-- name: one
-- a comment that belongs to the statement
select 1 as n;

-- name: two
select $1::int + 1 as n
