import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * Each store owns its tables (issue 15, item 4): only the owner's folder holds SQL that reads or
 * writes them. Checked over every `.ts` and `.sql` file under src/ (migrations create every table
 * and are left out) by a plain search for `from|into|update|join|truncate <table>`.
 */
const OWNERS: Readonly<Record<string, string>> = {
  inbox: 'src/inbox/',
  lineage: 'src/lineage/',
  lineage_head: 'src/lineage/',
  egress_outbox: 'src/writeback/hl7/',
  feature_state: 'src/features/',
  model_version: 'src/models/registry/',
  model_alias: 'src/models/registry/',
  model_alias_history: 'src/models/registry/',
  model_audit: 'src/models/registry/',
  fhir_resource: 'src/fhir-server/',
  fhir_resource_history: 'src/fhir-server/',
  fhir_search_token: 'src/fhir-server/',
};

/**
 * Reads across a store's edge that stay, each one statement for a reason (file, table, why).
 * Writes are never allowed here.
 */
const JOINS: ReadonlyArray<readonly [file: string, table: string, why: string]> = [
  ['src/inbox/store.sql', 'lineage', 'replay by model: a filter on lineage details within the inbox query'],
  ['src/writeback/hl7/outbox-store.sql', 'inbox', "a row's order and trace context are its message's"],
  ['src/recovery/dead-letters.ts', 'inbox', "a dead letter's listing shows its message's header fields"],
];

/**
 * Reads of inbox by the lineage store (issue 17): a record names its message's source,
 * records are found by control id, verify looks for messages without lineage. Kept as known
 * exceptions until lineage asks the inbox store (src/inbox/store.ts) for them.
 */
const LINEAGE_READS: ReadonlyArray<readonly [file: string, table: string]> = [
  ['src/lineage/store.sql', 'inbox'],
  ['src/lineage/verify.sql', 'inbox'],
];

/**
 * Known exceptions, to be gone once the work named lands (then this list fails: remove the row).
 * Lineage read by the message search: the lineage chain's store (helper 5) does the same for the
 * lineage tables.
 */
const PENDING: ReadonlyArray<readonly [file: string, table: string]> = [
  ['src/messages/search.ts', 'lineage'],
  // Retention prunes outbox bodies itself: writeback/hl7 is a sibling of its layer (the import
  // check), so the outbox store's pruneBodies waits for the pruner to be handed it at start-up.
  ['src/retention/prune.ts', 'egress_outbox'],
];

const root = fileURLToPath(new URL('../../', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return p.endsWith(join('src', 'db', 'migrations')) ? [] : files(p);
    return /\.(ts|sql)$/.test(e.name) ? [p] : [];
  });
}

/** Every (file, table, line) where a file outside the table's owner names it in SQL. */
function uses(): Array<{ file: string; table: string; line: number }> {
  const out: Array<{ file: string; table: string; line: number }> = [];
  for (const path of files(join(root, 'src'))) {
    const file = relative(root, path).split('\\').join('/');
    const text = readFileSync(path, 'utf8');
    for (const [table, owner] of Object.entries(OWNERS)) {
      if (file.startsWith(owner)) continue;
      const re = new RegExp(`\\b(?:from|into|update|join|truncate)\\s+${table}\\b(?!['"\`/.-])`, 'gi');
      for (const m of text.matchAll(re))
        out.push({ file, table, line: text.slice(0, m.index).split('\n').length });
    }
  }
  return out;
}

test('no SQL on a store table outside the folder that owns it', () => {
  const allowed = new Set([...JOINS, ...PENDING, ...LINEAGE_READS].map(([f, t]) => `${f} ${t}`));
  const offending = uses()
    .filter((u) => !allowed.has(`${u.file} ${u.table}`))
    .map((u) => `${u.file}:${u.line} uses ${u.table} (owned by ${OWNERS[u.table]})`);
  assert.deepEqual(offending, [], 'route these through the owning store');
});

test('the cross-store reads only read, and the lists of exceptions hold no row that is gone', () => {
  const found = new Set(uses().map((u) => `${u.file} ${u.table}`));
  for (const [file, table] of [...JOINS, ...PENDING, ...LINEAGE_READS])
    assert.ok(found.has(`${file} ${table}`), `${file} no longer uses ${table}: remove its row here`);
  for (const [file, table] of [...JOINS, ...LINEAGE_READS]) {
    const text = readFileSync(join(root, file), 'utf8');
    assert.doesNotMatch(
      text,
      new RegExp(`\\b(?:into|update|truncate)\\s+${table}\\b`, 'i'),
      `${file} writes ${table}`,
    );
  }
});

test('the check finds SQL on a table (a reader and a writer outside the owner)', () => {
  const re = (t: string) => new RegExp(`\\b(?:from|into|update|join|truncate)\\s+${t}\\b(?!['"\`/.-])`, 'i');
  assert.match('select raw from inbox where message_id = $1', re('inbox'));
  assert.match('update\n  inbox set status = $2', re('inbox'));
  assert.match('insert into egress_outbox (kind)', re('egress_outbox'));
  assert.doesNotMatch("import { x } from './inbox.js'", re('inbox'));
  assert.doesNotMatch('select * from inbox_accept_rows($1)', re('inbox'));
});
