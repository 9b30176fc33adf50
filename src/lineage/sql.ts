import { readFileSync } from 'node:fs';

/**
 * The lineage module's runtime SQL, one statement a file in `sql/` beside it, read once and cached.
 * (A small local loader: a shared one for every store is on its way in issue 15, item 4.)
 */
const cache = new Map<string, string>();

export function lineageSql(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`./sql/${name}.sql`, import.meta.url), 'utf8').trim();
    cache.set(name, text);
  }
  return text;
}
