import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type Hl7Path, parseHl7, parseHl7Path } from '../src/hl7/parser.js';

/**
 * Our HL7 v2 parser against the npm parsers an integration engineer would reach for: the same
 * correctness cases for each (through each library's own API) and the same parse + extract-22-fields
 * workload timed for each. `node --import tsx bench/hl7-parsers.ts` prints the table.
 */

export interface ParserRow {
  library: string;
  /** Cases passed, e.g. '5/9'. */
  correct: string;
  /** `case: what went wrong`, one per failed case. */
  failures: string[];
  msgPerSec: number;
  /** Workload fields whose value differs from ours (e.g. a whole field with its subcomponents). */
  workloadMismatches: string[];
}

interface Adapter {
  library: string;
  parse(text: string): unknown;
  /** The value at a path, through the library's own accessors ('' / null / undefined = absent). */
  get(handle: unknown, p: Hl7Path): unknown;
}

const require = createRequire(import.meta.url);

// biome-ignore lint/suspicious/noExplicitAny: the three libraries ship no usable types for these calls
type Any = any;

function adapters(): Adapter[] {
  const HL7Standard = require('hl7-standard') as Any;
  const nhc = require('node-hl7-client') as Any;
  const simple = require('simple-hl7') as Any;
  return [
    {
      library: 'gateway (src/hl7/parser.ts)',
      parse: (text) => parseHl7(text),
      get: (m, p) => (m as ReturnType<typeof parseHl7>).get(p),
    },
    {
      library: 'node-hl7-client 3.2.0',
      parse: (text) => new nhc.Message({ text }),
      get: (m: Any, p) => {
        if (p.occurrence === 1 && p.repetition === 1) {
          return m.get(`${p.segment}.${p.field}.${p.component}.${p.subcomponent}`).toString();
        }
        // Repetitions and repeated segments: Segment.get(field) is 1-based, the nodes below 0-based.
        const field =
          p.occurrence === 1
            ? m.get(`${p.segment}.${p.field}`)
            : m.get(p.segment).toArray()[p.occurrence - 1]?.get(p.field);
        return field
          ?.get(p.repetition - 1)
          .get(p.component - 1)
          .get(p.subcomponent - 1)
          .toString();
      },
    },
    {
      library: 'hl7-standard 1.0.4',
      parse: (text) => {
        const h = new HL7Standard(text);
        h.transform();
        return h;
      },
      get: (h: Any, p) => {
        const f = h.get(`${p.segment}.${p.field}`, p.occurrence - 1, p.repetition - 1);
        if (f === null || f === undefined || typeof f === 'string')
          return p.component === 1 && p.subcomponent === 1 ? f : '';
        const c = f[`${p.segment}.${p.field}.${p.component}`];
        return Array.isArray(c) ? c[p.subcomponent - 1] : p.subcomponent === 1 ? c : '';
      },
    },
    {
      library: 'simple-hl7 3.3.0',
      parse: (text) => new simple.Parser().parse(text),
      get: (m: Any, p) => {
        const isMsh = p.segment === 'MSH';
        const seg = isMsh ? m.header : m.getSegments(p.segment)[p.occurrence - 1];
        const field = isMsh ? p.field - 2 : p.field;
        if (!seg || field < 1) return undefined;
        if (p.repetition > 1) {
          // No component accessor for a repetition: split the repetition text on the library's delimiters.
          const rep = String(seg.getField(field, p.repetition));
          return (rep.split('^')[p.component - 1] ?? '').split('&')[p.subcomponent - 1];
        }
        return p.subcomponent > 1
          ? seg.getComponent(field, p.component, p.subcomponent)
          : seg.getComponent(field, p.component);
      },
    },
  ];
}

const MSH = 'MSH|^~\\&|APP|FAC|GW|HOSP|20240301101500||ORU^R01^ORU_R01|C9|P|2.5.1';
const PID = 'PID|1||A1^^^HOSP&1.2&ISO^MR~B2^^^NAT^NI||Doe^Jo||19480215|F';
const OBX1 = 'OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F';
const OBX2 = 'OBX|2|NM|9279-1^Respiratory rate^LN||16|/min|||||F';

interface Case {
  name: string;
  text: string;
  expect: Array<[string, string]>;
}

const CASES: Case[] = [
  {
    name: 'MSH-declared delimiters (#@*$%)',
    text: 'MSH#@*$%#APP#FAC#GW#HOSP#20240301101500##ORU@R01#C9#P#2.4\rPID#1##A1@@@HOSP@MR##Doe@Jo',
    expect: [
      ['MSH-3', 'APP'],
      ['MSH-9.2', 'R01'],
      ['PID-3.4', 'HOSP'],
      ['PID-5.2', 'Jo'],
    ],
  },
  {
    name: 'escape sequences decoded',
    text: [MSH, 'PID|1||A1||O\\T\\Fictive^Jo', 'OBX|1|ST|x^y^LN||7\\S\\10 \\F\\ C:\\E\\x \\X41\\'].join('\r'),
    expect: [
      ['PID-5.1', 'O&Fictive'],
      ['OBX-5', '7^10 | C:\\x A'],
    ],
  },
  {
    name: 'repetitions',
    text: [MSH, PID].join('\r'),
    expect: [
      ['PID-3[2].1', 'B2'],
      ['PID-3[2].4', 'NAT'],
    ],
  },
  {
    name: 'subcomponents',
    text: [MSH, 'PID|1||A1^^^HOSP&1.2&ISO^MR||Doe^Jo||19480215|F'].join('\r'),
    expect: [
      ['PID-3.4.2', '1.2'],
      ['PID-3.4.3', 'ISO'],
    ],
  },
  {
    name: 'repeated segments',
    text: [MSH, PID, OBX1, OBX2].join('\r'),
    expect: [
      ['OBX[2]-3.1', '9279-1'],
      ['OBX[2]-5', '16'],
    ],
  },
  ...(['\r', '\n', '\r\n'] as const).map((sep) => ({
    name: `segments ended by ${JSON.stringify(sep).replaceAll('"', '')}`,
    text: [MSH, PID, OBX1, OBX2, ''].join(sep),
    expect: [
      ['MSH-12', '2.5.1'],
      ['PID-8', 'F'],
      ['OBX[2]-11', 'F'],
    ] as Array<[string, string]>,
  })),
  {
    name: 'UTF-8 BOM before MSH',
    text: `\uFEFF${[MSH, PID].join('\r')}`,
    expect: [
      ['MSH-3', 'APP'],
      ['PID-8', 'F'],
    ],
  },
];

const show = (v: unknown) => (v === undefined || v === null || v === '' ? 'absent' : JSON.stringify(v));

function checkCase(a: Adapter, c: Case): string | undefined {
  try {
    const h = a.parse(c.text);
    for (const [path, want] of c.expect) {
      const got = a.get(h, parseHl7Path(path));
      if (got !== want) return `${c.name}: ${path} = ${show(got)}, expected ${JSON.stringify(want)}`;
    }
    return undefined;
  } catch (err) {
    return `${c.name}: threw ${err instanceof Error ? err.constructor.name : typeof err}`;
  }
}

/** The 22 fields the speed workload reads (first OBX). */
const BENCH_FIELDS_TEXT = [
  'MSH-3',
  'MSH-4',
  'MSH-7',
  'MSH-9.1',
  'MSH-9.2',
  'MSH-10',
  'MSH-12',
  'PID-3.1',
  'PID-3.4',
  'PID-5.1',
  'PID-5.2',
  'PID-7',
  'PID-8',
  'PV1-2',
  'PV1-19',
  'OBR-4.1',
  'OBR-7',
  'OBX-3.1',
  'OBX-5',
  'OBX-6.1',
  'OBX-11',
  'OBX-14',
];
export const BENCH_FIELDS: Hl7Path[] = BENCH_FIELDS_TEXT.map(parseHl7Path);

function benchOne(a: Adapter, text: string, seconds: number): number {
  const run = () => {
    const h = a.parse(text);
    let n = 0;
    for (const p of BENCH_FIELDS) if (a.get(h, p)) n++;
    return n;
  };
  try {
    run();
  } catch {
    return 0;
  }
  const warmEnd = performance.now() + Math.min(500, seconds * 250);
  while (performance.now() < warmEnd) run();
  let count = 0;
  let sink = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 100; i++) sink += run();
    count += 100;
    now = performance.now();
  }
  if (sink < 0) console.log(sink);
  return count / ((now - start) / 1000);
}

const SAMPLE = fileURLToPath(new URL('../fixtures/hl7v2/oru-r01-vitals-v251.hl7', import.meta.url));

export async function benchHl7Parsers(opts: { seconds?: number } = {}): Promise<{ rows: ParserRow[] }> {
  const text = readFileSync(SAMPLE, 'utf8');
  const rows: ParserRow[] = [];
  const ours = parseHl7(text);
  const expected = BENCH_FIELDS.map((p) => ours.get(p));
  for (const a of adapters()) {
    const failures = CASES.map((c) => checkCase(a, c)).filter((f): f is string => f !== undefined);
    const workloadMismatches = BENCH_FIELDS.flatMap((p, i) => {
      try {
        const got = a.get(a.parse(text), p);
        return (got || undefined) === expected[i] ? [] : [`${BENCH_FIELDS_TEXT[i]} = ${show(got)}`];
      } catch {
        return [`${BENCH_FIELDS_TEXT[i]}: threw`];
      }
    });
    rows.push({
      library: a.library,
      correct: `${CASES.length - failures.length}/${CASES.length}`,
      failures,
      msgPerSec: Math.round(benchOne(a, text, opts.seconds ?? 2)),
      workloadMismatches,
    });
  }
  return { rows };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { rows } = await benchHl7Parsers();
  const ref = rows.find((r) => r.library.startsWith('node-hl7-client'))?.msgPerSec ?? 0;
  console.log('| library | correct | msg/s | vs node-hl7-client |');
  console.log('| --- | --- | ---: | ---: |');
  for (const r of rows) {
    const ratio = ref > 0 ? `${(r.msgPerSec / ref).toFixed(2)}x` : '-';
    console.log(`| ${r.library} | ${r.correct} | ${r.msgPerSec.toLocaleString('en-US')} | ${ratio} |`);
  }
  for (const r of rows) for (const f of r.failures) console.log(`- ${r.library}: ${f}`);
  for (const r of rows) {
    if (r.workloadMismatches.length > 0)
      console.log(`- ${r.library} workload: ${r.workloadMismatches.join('; ')}`);
  }
}
