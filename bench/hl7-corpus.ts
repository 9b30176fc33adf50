import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { splitMessages } from '../src/hl7/batch.js';
import { decodeHl7Bytes } from '../src/hl7/charset.js';
import { parseHl7 } from '../src/hl7/parser.js';
import { BENCH_FIELDS } from './hl7-parsers.js';

/**
 * Parse + extraction over the whole fixture corpus (every message of fixtures/hl7v2, 50+ messages
 * from many vendors and versions, up to 113 OBX), ours against node-hl7-client: the 22 header, PID,
 * PV1, OBR and first-OBX fields plus OBX-3.1, OBX-5 and OBX-6.1 of every OBX, through each library's
 * own API. Values are compared message by message before timing.
 */
const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: node-hl7-client ships no usable types for these calls
type Any = any;
const nhc = require('node-hl7-client') as Any;

const DIR = fileURLToPath(new URL('../fixtures/hl7v2/', import.meta.url));

export function corpus(): string[] {
  const out: string[] = [];
  for (const f of readdirSync(DIR)
    .filter((x) => x.endsWith('.hl7'))
    .sort()) {
    const text = decodeHl7Bytes(readFileSync(`${DIR}${f}`)).text;
    out.push(...splitMessages(text).messages);
  }
  return out;
}

type Extract = (text: string) => Array<string | undefined>;

const norm = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : String(v));

const ours: Extract = (text) => {
  const m = parseHl7(text);
  const vals = BENCH_FIELDS.map((p) => m.get(p));
  for (const obx of m.all('OBX')) vals.push(obx.value(3, 1), obx.value(5), obx.value(6, 1));
  return vals;
};

/** node-hl7-client throws when a segment or field is absent: that reads as absent here. */
const safe = (f: () => unknown) => {
  try {
    return norm(f());
  } catch {
    return undefined;
  }
};

const theirs: Extract = (text) => {
  const m = new nhc.Message({ text });
  const vals: Array<string | undefined> = BENCH_FIELDS.map((p) =>
    safe(() => m.get(`${p.segment}.${p.field}.${p.component}.${p.subcomponent}`).toString()),
  );
  let obxs: Any[] = [];
  try {
    obxs = m.get('OBX').toArray();
  } catch {
    obxs = [];
  }
  for (const s of obxs) {
    vals.push(
      safe(() => s.get(3).get(0).get(0).get(0).toString()),
      safe(() => s.get(5).get(0).get(0).get(0).toString()),
      safe(() => s.get(6).get(0).get(0).get(0).toString()),
    );
  }
  return vals;
};

function time(fn: Extract, messages: string[], seconds: number): number {
  const warm = performance.now() + 300;
  while (performance.now() < warm) for (const t of messages) fn(t);
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (const t of messages) fn(t);
    n += messages.length;
    now = performance.now();
  }
  return n / ((now - start) / 1000);
}

export interface CorpusResult {
  messages: number;
  bytes: number;
  obx: number;
  /** Messages where node-hl7-client's values equal ours (it throws on some). */
  matching: number;
  mismatches: string[];
  oursPerSec: number;
  theirsPerSec: number;
}

export function benchCorpus(seconds = 3): CorpusResult {
  const all = corpus();
  const mismatches: string[] = [];
  const usable: string[] = [];
  let matching = 0;
  for (const [i, t] of all.entries()) {
    const a = ours(t);
    let b: Array<string | undefined>;
    try {
      b = theirs(t);
    } catch (err) {
      mismatches.push(`message ${i + 1}: node-hl7-client threw ${(err as Error).constructor.name}`);
      continue;
    }
    usable.push(t);
    const diff = a.findIndex((v, k) => v !== b[k]);
    if (diff < 0 && a.length === b.length) matching++;
    else
      mismatches.push(
        `message ${i + 1} (${t.slice(0, 40).replace(/\r/g, ' ')}…): value ${diff} ours ${JSON.stringify(a[diff])} theirs ${JSON.stringify(b[diff])}`,
      );
  }
  // Both timed on the messages node-hl7-client can parse, so the work is the same.
  return {
    messages: all.length,
    bytes: all.reduce((s, t) => s + Buffer.byteLength(t), 0),
    obx: all.reduce((s, t) => s + parseHl7(t).all('OBX').length, 0),
    matching,
    mismatches,
    oursPerSec: time(ours, usable, seconds),
    theirsPerSec: time(theirs, usable, seconds),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = benchCorpus();
  console.log(JSON.stringify({ ...r, ratio: r.oursPerSec / r.theirsPerSec }, null, 2));
}
