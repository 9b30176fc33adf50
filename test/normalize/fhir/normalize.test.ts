import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { extractFeatures } from '../../../src/features/extract.js';
import { loadMappings, parseMapping } from '../../../src/features/mapping.js';
import { parseNotification } from '../../../src/fhir/notification.js';
import { parseHl7 } from '../../../src/hl7/parser.js';
import {
  authorityOf,
  canonicalObservations,
  normalizeFhir,
  patientInfo,
} from '../../../src/normalize/fhir/resources.js';
import { normalizeHl7 } from '../../../src/normalize/hl7v2.js';
import { patientKey } from '../../../src/normalize/patient-key.js';
import { loadSigningKey } from '../../../src/sources/keys.js';
import { createTokenProvider } from '../../../src/sources/smart.js';
import { vitalsOru } from '../../helpers/messages.js';

const FIX = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'fhir');
const fixture = (f: string) => JSON.parse(readFileSync(join(FIX, f), 'utf8'));
const systems = {
  systems: { HOSP: 'http://hosp.example.org/mrn' },
  defaultSystemPrefix: 'urn:ml-gateway:patient-id:',
};

describe('FHIR -> canonical event', () => {
  it('a blood pressure panel gives systolic 8480-6 and diastolic 8462-4 in mm[Hg]', () => {
    const obs = canonicalObservations(
      fixture('spec-observation-bloodpressure.json'),
      'Observation/blood-pressure',
    );
    assert.deepEqual(
      obs.map((o) => [o.ref, o.system, o.code, o.value, o.unit, o.status, o.effectiveAt]),
      [
        [
          'Observation/blood-pressure.component[0]',
          'http://loinc.org',
          '8480-6',
          { kind: 'numeric', value: 107 },
          'mm[Hg]',
          'final',
          '2012-09-17',
        ],
        [
          'Observation/blood-pressure.component[1]',
          'http://loinc.org',
          '8462-4',
          { kind: 'numeric', value: 60 },
          'mm[Hg]',
          'final',
          '2012-09-17',
        ],
      ],
    );
    assert.ok(obs.every((o) => o.sourceReference === 'Observation/blood-pressure'));
  });

  it('a hasMember panel has no value of its own', () => {
    assert.deepEqual(
      canonicalObservations(fixture('spec-observation-vitals-panel.json'), 'Observation/vitals-panel'),
      [],
    );
  });

  it('HL7 PID-3 with authority HOSP and FHIR identifier in the configured system make one patient key', () => {
    const hl7 = normalizeHl7(parseHl7(vitalsOru({ controlId: 'K1', mrn: 'MRN9' })), {
      channel: 'mllp',
      messageId: 'm',
    });
    const fhir = patientInfo(
      { identifier: [{ system: 'http://hosp.example.org/mrn', value: 'MRN9' }] },
      systems,
    );
    assert.equal(patientKey(fhir), patientKey(hl7.patient));
    assert.equal(patientKey(fhir), 'HOSP|MRN9');
    // An authority that is not configured round-trips through the default system prefix.
    assert.equal(authorityOf('urn:ml-gateway:patient-id:LAB2', systems), 'LAB2');
    // Synthea: the MR-typed identifier is the primary one.
    const synthea = fixture('synthea-caitlin552-excerpt.transaction.json').entry[0].resource;
    assert.equal(
      patientKey(patientInfo(synthea, systems)),
      'http://hospital.smarthealthit.org|14868376-0689-1f04-04a2-b57ecd1711c0',
    );
  });

  it('FHIRPath in the mapping takes the systolic value of a BP panel; HL7 still uses codes', () => {
    const { mappings, errors } = loadMappings(join(import.meta.dirname, '..', '..', '..', 'mappings'));
    assert.deepEqual(errors, []);
    const vitals = mappings.find((m) => m.model === 'vitals-deterioration')!;
    const bp = {
      ...fixture('spec-observation-bloodpressure.json'),
      effectiveDateTime: '2024-03-01T10:00:00Z',
    };
    const event = normalizeFhir({
      source: { channel: 'fhir', messageId: 'm', controlId: 'c', messageType: 'Observation' },
      patient: { identifiers: [{ value: 'x' }] },
      resources: [{ resource: bp, reference: 'Observation/blood-pressure' }],
    });
    const { values } = extractFeatures(event, vitals);
    assert.deepEqual(
      values.map((v) => [v.feature, v.value, v.unit, v.sourceReference]),
      [['systolic_bp', 107, 'mm[Hg]', 'Observation/blood-pressure']],
    );
    const hl7 = normalizeHl7(parseHl7(vitalsOru({ controlId: 'K2', sbp: 99 })), {
      channel: 'mllp',
      messageId: 'm',
    });
    assert.equal(extractFeatures(hl7, vitals).values.find((v) => v.feature === 'systolic_bp')?.value, 99);
  });

  it('a FHIRPath that does not compile is a mapping error with its path', () => {
    const text = readFileSync(
      join(import.meta.dirname, '..', '..', '..', 'mappings', 'vitals-deterioration.yaml'),
      'utf8',
    ).replace('Observation.where(code.coding', 'Observation.where((code.coding');
    const { errors } = parseMapping(text, 'vitals.yaml');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.path, 'features[4].fhirpath');
    assert.match(errors[0]!.message, /FHIRPath does not compile/);
  });
});

describe('Backport IG notifications', () => {
  it('reads the R4 Parameters form and the older SubscriptionStatus form alike', () => {
    const a = parseNotification(fixture('backport-r4-notification-id-only.json')).notification!;
    const b = parseNotification(fixture('backport-subscriptionstatus-notification-id-only.json'))
      .notification!;
    for (const n of [a, b]) {
      assert.equal(n.type, 'event-notification');
      assert.equal(n.eventsSinceStart, 2);
      assert.deepEqual(
        n.events.map((e) => e.number),
        [2],
      );
      assert.match(n.events[0]!.focus!, /Encounter\//);
    }
    assert.equal(
      parseNotification(fixture('backport-r4-notification-heartbeat.json')).notification!.type,
      'heartbeat',
    );
  });

  it('names what is wrong with a malformed notification', () => {
    const { issues } = parseNotification(fixture('gateway-notification-without-status.json'));
    assert.deepEqual(
      issues.map((i) => i.expression),
      [['Bundle.entry[0].resource']],
    );
    assert.equal(parseNotification(null).issues.length, 1);
  });
});

describe('SMART Backend Services token cache', () => {
  it('asks once, reuses the token until shortly before it expires', async () => {
    let clock = 1_700_000_000_000;
    let asked = 0;
    const { createServer } = await import('node:http');
    const server = createServer((_req, res) => {
      asked++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ access_token: `t${asked}`, expires_in: 120 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    const key = loadSigningKey({ dataDir: dir, alg: 'ES384' });
    const p = createTokenProvider({
      tokenUrl: `http://127.0.0.1:${port}/t`,
      clientId: 'c',
      scope: 's',
      key,
      timeoutMs: 2000,
      now: () => clock,
    });
    try {
      assert.deepEqual(await Promise.all([p.token(), p.token()]), ['t1', 't1']);
      clock += 80_000;
      assert.equal(await p.token(), 't1');
      clock += 20_000; // within 30 s of expiry
      assert.equal(await p.token(), 't2');
      p.invalidate();
      assert.equal(await p.token(), 't3');
      assert.equal(asked, 3);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
