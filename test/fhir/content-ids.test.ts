import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { contentUri, encodeUriPart, fhirString, identifierSystemFor } from '../../src/fhir/content-ids.js';
import { errorsOf, validateFhir } from '../../src/fhir/validate.js';
import { loadModelCard } from '../../src/models/registry/card.js';
import { buildCardResources } from '../../src/models/registry/card-render.js';
import { predictionBundle } from '../../src/pipeline/prediction.js';

/** RFC 3986 URI (scheme ":" then unreserved, pct-encoded, sub-delims, ":", "@", "/", "?", "#"). */
const RFC3986 = /^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#]|%[0-9A-F]{2})*$/;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Every string value in a JSON value. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

/** Field contents as senders send them, and as attackers would. */
const content = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    'CENTRAL LAB^2.16.840.1.113883.19.4.6^ISO',
    "O'Brien & Sons #2",
    'Zürich Spital ÄÖÜ 東京',
    '\t\r\n',
    ' ',
    '%zz%',
    '\uD800',
    '\u0001\u007f',
  ),
  fc.string({ minLength: 300, maxLength: 5000 }),
);

const identifiers = { systems: { HOSP: 'urn:oid:1.2.3' }, defaultSystemPrefix: 'urn:ml-gateway:patient-id:' };

const card = await loadModelCard('models/aki-risk/card.yaml');
const model = { name: card.name, version: card.version, sha256: card.onnx.sha256, card };

describe('every uri, id and reference built from content is valid FHIR (issue 12, item 2)', () => {
  it('encodes content into an RFC 3986 uri, the same content always the same way', () => {
    fc.assert(
      fc.property(content, (s) => {
        const uri = contentUri('urn:hl7v2:msh10:', s);
        assert.match(uri, RFC3986);
        assert.ok(uri.length <= 'urn:hl7v2:msh10:'.length + 200);
        assert.equal(uri, contentUri('urn:hl7v2:msh10:', s));
      }),
      { numRuns: 400 },
    );
    assert.equal(encodeUriPart('LABSYS|CENTRAL LAB^1.2^ISO'), 'LABSYS%7CCENTRAL%20LAB%5E1.2%5EISO');
    assert.equal(encodeUriPart('HOSP'), 'HOSP');
    assert.notEqual(encodeUriPart('x'.repeat(500)), encodeUriPart(`${'x'.repeat(499)}y`));
  });

  it('keeps FHIR strings to what FHIR and PostgreSQL jsonb take', () => {
    fc.assert(
      fc.property(content, (s) => {
        const out = fhirString(s);
        if (out === undefined) return;
        assert.match(out, /^[\r\n\t\u0020-\uFFFF]+$/);
        assert.ok(!LONE_SURROGATE.test(out));
        assert.equal(out, out.trim());
      }),
      { numRuns: 400 },
    );
  });

  it('every resource of a prediction validates, whatever the sender, MSH-10, PID-3, PV1-19 and inputs hold', () => {
    fc.assert(
      fc.property(
        fc.record({
          sender: content,
          controlId: content,
          assigner: fc.option(content, { nil: undefined }),
          mrn: content.filter((s) => fhirString(s) !== undefined),
          visit: fc.option(content, { nil: undefined }),
          visitAssigner: fc.option(content, { nil: undefined }),
          patientRef: fc.option(content, { nil: undefined }),
          derivedFrom: fc.array(fc.oneof(content, fc.constant('Observation/bp-1.component[0]')), {
            maxLength: 3,
          }),
        }),
        (f) => {
          const bundle = predictionBundle(
            {
              eventKey: 'msg-1',
              patient: { assigner: f.assigner, value: f.mrn, reference: f.patientRef },
              encounter: {
                ...(f.visit !== undefined ? { identifier: f.visit } : {}),
                ...(f.visitAssigner !== undefined ? { assigner: f.visitAssigner } : {}),
              },
              model,
              mappingVersion: 'sha256:0123456789abcdef',
              score: 0.42,
              effectiveAt: '2024-03-01T10:15:00Z',
              issuedAt: '2024-03-01T10:16:00.000Z',
              derivedFrom: f.derivedFrom,
              hl7Sources: [{ sender: f.sender, controlId: f.controlId }],
            },
            (a) => identifierSystemFor(a, identifiers),
          );
          for (const e of bundle.entry ?? []) {
            const r = e.resource!;
            assert.deepEqual(errorsOf(validateFhir(r)), [], `${r.resourceType} ${JSON.stringify(f)}`);
            for (const str of strings(r))
              assert.ok(
                !str.includes('\u0000') && !LONE_SURROGATE.test(str),
                'nothing PostgreSQL jsonb refuses',
              );
          }
          const obs = bundle.entry!.find((e) => e.resource?.resourceType === 'Observation')!.resource!;
          const system = (obs.subject as { identifier?: { system?: string } }).identifier?.system ?? '';
          assert.match(system, RFC3986);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('the model card DocumentReference validates', () => {
    const { document, device } = buildCardResources(model, '2024-03-01T10:16:00.000Z');
    assert.deepEqual(errorsOf(validateFhir(document)), []);
    assert.deepEqual(errorsOf(validateFhir(device)), []);
  });
});
