import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSqlFile, sql, withRows } from '../../src/db/sql.js';

const here = new URL('./sql-fixture/x.ts', import.meta.url).href;

test('sql loads the named statements of a file beside the module, comments and trailing ; dropped', () => {
  const q = sql(here, 'sample', ['one', 'two'] as const);
  assert.equal(q.one, 'select 1 as n');
  assert.equal(q.two, 'select $1::int + 1 as n');
  assert.ok(Object.isFrozen(q));
  // Cached: the same file read twice answers the same text.
  assert.equal(sql(here, 'sample', ['one', 'two'] as const).one, q.one);
});

test('a missing file, a missing statement or one nobody asks for fails naming the file', () => {
  assert.throws(() => sql(here, 'nope', ['a'] as const), /SQL file missing: .*sql-fixture\/nope\.sql/);
  assert.throws(
    () => sql(here, 'sample', ['one', 'two', 'three'] as const),
    /sample\.sql: no statement named "three"/,
  );
  assert.throws(
    () => sql(here, 'sample', ['one'] as const),
    /sample\.sql: statements no module asks for: two/,
  );
});

test('parseSqlFile refuses a name used twice and an empty statement', () => {
  assert.throws(
    () => parseSqlFile('-- name: a\nselect 1\n-- name: a\nselect 2', 'f.sql'),
    /f\.sql: .*"a" is named twice/,
  );
  assert.throws(
    () => parseSqlFile('-- name: a\n-- only a comment\n', 'f.sql'),
    /f\.sql: statement "a" is empty/,
  );
});

test('withRows numbers the tuples of a multi-row values list', () => {
  assert.equal(
    withRows('insert into t values :rows', 2, 3),
    'insert into t values ($1, $2, $3), ($4, $5, $6)',
  );
  assert.equal(
    withRows('insert into t values :rows', 2, 2, '($1, f($2), $2)'),
    'insert into t values ($1, f($2), $2), ($3, f($4), $4)',
  );
  assert.throws(() => withRows('select 1', 1, 1), /needs one :rows token/);
  assert.throws(() => withRows('values :rows', 1, 1, '($2)'), /beyond its width/);
});
