/**
 * Golden files for what the gateway sends out, beside those for normalization: for every HL7 v2
 * fixture, each transaction Bundle the FHIR writer posts (`<fixture>.bundle.expected.json`) and
 * each ORU^R01 the gateway sends (`<fixture>.oru.expected.txt`, one segment a line), with the
 * times of the run normalized. A fixture that yields no result has neither file. The fixtures go
 * through one real gateway (PGlite) in name order, one at a time, so the feature state an earlier
 * fixture left for a patient is part of what a later one scores on.
 * UPDATE_GOLDEN=1 rewrites the golden files (review the diff).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { registerFhirRoutes } from '../../src/fhir-server/routes.js';
import { createFhirStore } from '../../src/fhir-server/store.js';
import { MllpClient } from '../../src/mllp/client.js';
import { type FakeMirth, startFakeMirth } from '../helpers/fake-mirth.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'hl7v2');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.hl7'))
  .sort();

const MODELS = join(import.meta.dirname, '..', '..', 'models');
const today = new Date().toISOString().slice(0, 10);
/** The run's own times (today's) become `<now>`; times taken from the fixtures stay as they are. */
/** Ids the run draws at random (a message's id, ids the FHIR server assigns): uuid v4. */
const RANDOM_ID = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/g;
/** Ids derived from a message's id (sha256 hex, uuid v5 fullUrls): the same within a run, new each run. */
const DERIVED_ID =
  /(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])|urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/g;
/** The demo models' sha256 stay as they are: a golden file names the model version it was made with. */
const MODEL_SHAS = new Set(
  readdirSync(MODELS)
    .filter((m) => existsSync(join(MODELS, m, 'model.onnx')))
    .map((m) =>
      createHash('sha256')
        .update(readFileSync(join(MODELS, m, 'model.onnx')))
        .digest('hex'),
    ),
);

/**
 * The run's own times (today's) become `<now>`, random ids `<id>`, and ids derived from them
 * `<derived-N>` numbered in order of first appearance, so the golden file still shows which
 * places carry the same id. A model card attached in full becomes `<card>` (it names its approval time).
 */
function normalizeJson(root: unknown): unknown {
  const derived = new Map<string, string>();
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') {
      if (key === 'data') return '<card>';
      if (v.startsWith(today)) return '<now>';
      return v.replace(RANDOM_ID, '<id>').replace(DERIVED_ID, (m) => {
        if (MODEL_SHAS.has(m)) return m;
        if (!derived.has(m)) derived.set(m, `<derived-${derived.size + 1}>`);
        return derived.get(m)!;
      });
    }
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return walk(root);
}
function normalizeHl7(message: string): string {
  const stamp = today.replaceAll('-', '');
  return `${message
    .split('\r')
    .filter((s) => s.length > 0)
    .map((s) =>
      s.startsWith('MSH|')
        ? [...s.split('|').slice(0, 9), '<control-id>', ...s.split('|').slice(10)].join('|')
        : s,
    )
    .join('\n')
    .replace(RANDOM_ID, '<id>')
    .replace(new RegExp(`${stamp}\\d{6}(\\.\\d+)?([+-]\\d{4})?`, 'g'), '<now>')}\n`;
}

function compare(path: string, actual: string | undefined): void {
  if (UPDATE) {
    if (actual === undefined) rmSync(path, { force: true });
    else writeFileSync(path, actual);
    return;
  }
  const expected = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  assert.equal(
    actual,
    expected,
    `${basename(path)} drifted; if intended, regenerate with: UPDATE_GOLDEN=1 node --import tsx --test test/e2e/writeback-golden.test.ts (and review the diff)`,
  );
}

describe('golden write-back: the FHIR Bundle and the ORU^R01 for every HL7 v2 fixture', () => {
  let fhirDir: string;
  let fhirDb: Database;
  let fhir: FastifyInstance;
  const posted: unknown[] = [];
  let mirth: FakeMirth;
  let t: TestGateway;
  let client: MllpClient;

  before(async () => {
    fhirDir = mkdtempSync(join(tmpdir(), 'golden-fhir-'));
    fhirDb = await openDatabase({ dataDir: fhirDir });
    fhir = Fastify({ bodyLimit: 10 * 1024 * 1024 });
    let port = 0;
    fhir.addHook('preHandler', async (req) => {
      const body = req.body as { resourceType?: string; type?: string } | undefined;
      // Prediction transactions only (an Observation in them), not the model cards written at start.
      const entries = (body as { entry?: Array<{ resource?: { resourceType?: string } }> } | undefined)
        ?.entry;
      if (
        req.method === 'POST' &&
        body?.resourceType === 'Bundle' &&
        body.type === 'transaction' &&
        entries?.some((e) => e.resource?.resourceType === 'Observation')
      )
        posted.push(structuredClone(body));
    });
    registerFhirRoutes(fhir, createFhirStore(fhirDb), {
      prefix: '/fhir',
      baseUrl: () => `http://127.0.0.1:${port}/fhir`,
    });
    await fhir.listen({ host: '127.0.0.1', port: 0 });
    const addr = fhir.server.address();
    port = typeof addr === 'object' && addr ? addr.port : 0;
    mirth = await startFakeMirth(() => 'AA');
    t = await startTestGateway({
      database: 'pglite',
      config: {
        fhir: { baseUrl: `http://127.0.0.1:${port}/fhir` },
        egress: {
          oru: {
            destinations: [
              {
                name: 'mirth',
                host: '127.0.0.1',
                port: mirth.port,
                receivingApplication: 'MIRTH',
                backoffMs: 50,
              },
            ],
          },
        },
      },
    });
    client = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
  });
  after(async () => {
    await client?.close();
    await t?.dispose();
    await mirth?.close();
    await fhir?.close();
    await fhirDb?.close();
    if (fhirDir) rmSync(fhirDir, { recursive: true, force: true });
  });

  for (const file of fixtures) {
    const name = basename(file, '.hl7');
    it(name, async () => {
      const bundlesBefore = posted.length;
      const orusBefore = mirth.received.length;
      const bytes = readFileSync(join(DIR, file));
      // A file is sent as the sender would: each message of a batch or concatenated file its own frame.
      const { splitMessages } = await import('../../src/hl7/batch.js');
      const { decodeHl7Bytes } = await import('../../src/hl7/charset.js');
      for (const m of splitMessages(decodeHl7Bytes(bytes).text).messages) await client.send(m);
      await t.gw.idle();
      // The ORU leaves through the outbox after the commit: wait until nothing is pending.
      for (let i = 0; i < 300; i++) {
        const r = await t.gw.db.query<{ n: number }>(
          "select count(*)::int as n from egress_outbox where status = 'pending'",
        );
        if (r.rows[0]?.n === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const bundles = normalizeJson(posted.slice(bundlesBefore)) as unknown[];
      const orus = mirth.received.slice(orusBefore).map(normalizeHl7);
      compare(
        join(DIR, `${name}.bundle.expected.json`),
        bundles.length ? `${JSON.stringify(bundles, null, 2)}\n` : undefined,
      );
      compare(join(DIR, `${name}.oru.expected.txt`), orus.length ? orus.join('\n') : undefined);
    });
  }
});
