import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Runtime SQL as data (as migrations already are, and as BullMQ keeps its Lua scripts): a store
 * keeps its statements in `NAME.sql` beside its module, each under a `-- name: key` line:
 *
 *     -- Anything before the first name is the file's own comment.
 *     -- name: pending
 *     -- Comments under a name document the statement (whole-line ones are not sent).
 *     select id from widget where state = 'new'
 *
 * `sql(import.meta.url, 'inbox', ['pending'] as const)` reads the file once (cached per path) when
 * the module is loaded, so a missing file or statement stops start-up with the file's name rather
 * than failing the first message that needs it; a statement in the file that no module asks for
 * fails too (dead SQL is found, not kept).
 */
const cache = new Map<string, ReadonlyMap<string, string>>();

const NAME_LINE = /^--\s*name:\s*([A-Za-z][A-Za-z0-9_]*)\s*$/;

/** The named statements of one `.sql` file (whole-line comments and a trailing `;` dropped), by name. */
export function parseSqlFile(text: string, file: string): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  let name: string | undefined;
  let body: string[] = [];
  const flush = () => {
    if (name === undefined) return;
    const statement = body
      .filter((l) => !l.trim().startsWith('--'))
      .join('\n')
      .trim()
      .replace(/;\s*$/, '');
    if (statement === '') throw new Error(`${file}: statement "${name}" is empty`);
    out.set(name, statement);
  };
  for (const line of text.split(/\r?\n/)) {
    const m = NAME_LINE.exec(line);
    if (m) {
      flush();
      name = m[1]!;
      if (out.has(name)) throw new Error(`${file}: statement "${name}" is named twice`);
      body = [];
    } else if (name !== undefined) {
      body.push(line);
    }
  }
  flush();
  return out;
}

function load(path: string): ReadonlyMap<string, string> {
  let statements = cache.get(path);
  if (!statements) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`SQL file missing: ${path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
    statements = parseSqlFile(text, path);
    cache.set(path, statements);
  }
  return statements;
}

/**
 * The statements `names` of `file`.sql beside the module whose `import.meta.url` is `moduleUrl`,
 * as a frozen object. Throws (naming the file) when the file, or one of the names, is missing, or
 * when the file holds a statement not asked for.
 */
export function sql<const K extends string>(
  moduleUrl: string,
  file: string,
  names: readonly K[],
): Readonly<Record<K, string>> {
  const path = join(dirname(fileURLToPath(moduleUrl)), `${file}.sql`);
  const statements = load(path);
  const out = {} as Record<K, string>;
  for (const n of names) {
    const s = statements.get(n);
    if (s === undefined) throw new Error(`${path}: no statement named "${n}"`);
    out[n] = s;
  }
  const unused = [...statements.keys()].filter((k) => !(names as readonly string[]).includes(k));
  if (unused.length > 0) throw new Error(`${path}: statements no module asks for: ${unused.join(', ')}`);
  return Object.freeze(out);
}

/**
 * A multi-row `values` list for a statement that holds the token `:rows`: `rows` tuples of `width`
 * parameters each (`($1, $2), ($3, $4)`), so the statement stays in its file. A `tuple` (itself a
 * statement of the file, written for the first row with $1..$width) is repeated with its parameters
 * moved along by `width` a row.
 */
export function withRows(statement: string, rows: number, width: number, tuple?: string): string {
  if (statement.split(':rows').length !== 2) throw new Error('statement needs one :rows token');
  const first = tuple ?? `(${Array.from({ length: width }, (_, j) => `$${j + 1}`).join(', ')})`;
  const tuples: string[] = [];
  for (let i = 0; i < rows; i++) {
    tuples.push(
      first.replace(/\$(\d+)/g, (_, n: string) => {
        if (Number(n) > width) throw new Error(`tuple parameter $${n} is beyond its width ${width}`);
        return `$${i * width + Number(n)}`;
      }),
    );
  }
  return statement.replace(':rows', tuples.join(', '));
}
