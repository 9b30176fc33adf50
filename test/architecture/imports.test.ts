import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type ImportEdge, importGraph, specifiers } from './graph.js';
import { againstFlow, EXCEPTIONS, LAYERS, unitOf } from './layers.js';

// Every import in src/ points along the flow: a file imports its own folder or a lower layer
// (test/architecture/layers.ts), and no two files import each other, directly or round a loop.
const ROOT = join(import.meta.dirname, '..', '..');
const graph = importGraph(join(ROOT, 'src'));
const DOC = join(ROOT, 'docs', 'architecture.md');

const show = (e: ImportEdge) => `src/${e.from}:${e.line} -> src/${e.to}`;

/** Strongly connected components of more than one file (Tarjan). */
function cycles(files: string[], edges: ImportEdge[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) if (e.from !== e.to) next.get(e.from)!.push(e.to);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return found;
}

describe('imports follow the flow', () => {
  it('the parser sees every kind of import', () => {
    const text = [
      "import a from './static.js';",
      "import type { B } from './types-only.js';",
      "export { c } from './re-export.js';",
      "export * from './star.js';",
      "const d = await import('./dynamic.js');",
      "const w = new Worker(new URL('./worker.js', import.meta.url));",
      "type E = import('./inline-type.js').E;",
      "import x from 'node:fs';",
    ].join('\n');
    const found = specifiers('x.ts', text);
    assert.deepEqual(
      found.map((f) => [f.spec, f.typeOnly]),
      [
        ['./static.js', false],
        ['./types-only.js', true],
        ['./re-export.js', false],
        ['./star.js', false],
        ['./dynamic.js', false],
        ['./worker.js', false],
        ['./inline-type.js', true],
      ],
    );
  });

  it('sees the worker file the inference thread starts by URL', () => {
    assert.ok(
      graph.edges.some(
        (e) =>
          e.from === 'models/runtime/inference-thread.ts' && e.to === 'models/runtime/inference-worker.js',
      ),
    );
  });

  it('every relative import in src/ resolves to a file', () => {
    assert.deepEqual(graph.unresolved, []);
  });

  it('every file of src/ belongs to a layer', () => {
    assert.deepEqual(
      graph.files.filter((f) => !unitOf(f)),
      [],
      'a new folder needs its place in test/architecture/layers.ts and docs/architecture.md',
    );
  });

  it('the rule itself: down and within a folder pass, up and sideways fail', () => {
    const found = againstFlow(
      [
        { from: 'pipeline/process.ts', to: 'normalize/hl7v2.ts' },
        { from: 'pipeline/process.ts', to: 'pipeline/prediction.ts' },
        { from: 'normalize/fhir/rows.ts', to: 'writeback/fhir/builders.ts' },
        { from: 'hl7/parser.ts', to: 'fhir/types.ts' },
        { from: 'models/registry/card.ts', to: 'models/runtime/loader.ts' },
      ],
      [],
    );
    assert.deepEqual(
      found.map((e) => `${e.from} -> ${e.to}`),
      [
        'normalize/fhir/rows.ts -> writeback/fhir/builders.ts',
        'hl7/parser.ts -> fhir/types.ts',
        'models/registry/card.ts -> models/runtime/loader.ts',
      ],
    );
  });

  it('no file imports a higher layer, nor another folder of its own layer', () => {
    const against = againstFlow(graph.edges).map((e) => {
      const edge = graph.edges.find((x) => x.from === e.from && x.to === e.to)!;
      return `${show(edge)}: ${e.why}`;
    });
    assert.deepEqual(against, [], `imports against the flow:\n${against.join('\n')}`);
    // An exception that no longer happens is removed from the list, so the list stays true.
    const used = new Set(graph.edges.map((e) => `${e.from} -> ${e.to}`));
    const stale = EXCEPTIONS.map((x) => `${x.from} -> ${x.to}`).filter((x) => !used.has(x));
    assert.deepEqual(stale, [], 'exceptions in test/architecture/layers.ts that no import needs any more');
  });

  it('no cycles between files, type-only imports included', () => {
    const found = cycles(graph.files, graph.edges);
    assert.deepEqual(
      found,
      [],
      `files that import each other:\n${found.map((c) => c.join(' <-> ')).join('\n')}`,
    );
  });

  it('docs/architecture.md lists the layers as the test has them', () => {
    const doc = readFileSync(DOC, 'utf8');
    const start = doc.indexOf('<!-- layers:start -->');
    const end = doc.indexOf('<!-- layers:end -->');
    assert.ok(start >= 0 && end > start, 'docs/architecture.md has the layer table between its markers');
    const shown = doc.slice(start, end + '<!-- layers:end -->'.length);
    if (process.env.UPDATE_DOCS === '1') writeFileSync(DOC, doc.replace(shown, layerTable()));
    else assert.equal(shown, layerTable(), 'regenerate with UPDATE_DOCS=1 on this test');
  });
});

/** The layer table as docs/architecture.md shows it, highest first (as one reads the flow's arrows down). */
export function layerTable(): string {
  const rows = LAYERS.map((l, i) => ({ ...l, i }))
    .reverse()
    .map((l) => `| ${l.i} | ${l.folders.map((f) => `\`src/${f}\``).join(', ')} | ${l.why} |`);
  return [
    '<!-- layers:start -->',
    '<!-- generated from test/architecture/layers.ts; `UPDATE_DOCS=1` on the import test rewrites it -->',
    '| layer | folders | why here |',
    '| --- | --- | --- |',
    ...rows,
    '<!-- layers:end -->',
  ].join('\n');
}
