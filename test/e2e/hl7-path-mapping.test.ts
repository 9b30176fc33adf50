import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadModels } from '../../src/models/runtime/loader.js';
import { predictions, sendMllp, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode } from '../helpers/messages.js';

/**
 * An informaticist points a feature at a place in the message (`hl7.path`), not only at a code:
 * here the laboratory creatinine under the second order, while a point-of-care creatinine of the
 * same LOINC code under the first order must not be used.
 */
const message = (controlId: string) =>
  [
    `MSH|^~\\&|LAB|HOSP|GW|HOSP|20240601101500||ORU^R01|${controlId}|P|2.5.1`,
    'PID|1||MRN4242^^^HOSP^MR||Doe^Jane||19600520|F',
    'OBR|1||POC1|POCT^Point of care panel^L|||20240601100000',
    'OBX|1|NM|2160-0^Creatinine^LN||4.8|mg/dL|||||F',
    'OBR|2||LAB2|BMP^Basic metabolic panel^L|||20240601093000',
    'OBX|1|NM|2160-0^Creatinine^LN||79.6|umol/L|||||F',
    'OBX|2|NM|3094-0^Urea nitrogen^LN||14|mg/dL|||||F',
    'OBX|3|NM|2823-3^Potassium^LN||4.0|mmol/L|||||F',
    'OBX|4|NM|2951-2^Sodium^LN||139|mmol/L|||||F',
  ].join('\r');

describe('a mapping with a group-aware HL7 path, end to end', () => {
  let t: TestGateway;
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-mappings-'));
    const aki = readFileSync('mappings/aki-risk.yaml', 'utf8');
    const withPath = aki.replace(
      '    unit: mg/dL\n    acceptUnits: [umol/L]',
      "    hl7: { path: 'OBR[2]/OBX[1]-5' }   # the laboratory's creatinine, not point of care\n    unit: mg/dL\n    acceptUnits: [umol/L]",
    );
    assert.notEqual(withPath, aki);
    writeFileSync(join(dir, 'aki-risk.yaml'), withPath);
    t = await startTestGateway({ database: 'pglite', config: { paths: { mappings: dir } } });
  });
  after(async () => t?.dispose());

  it('scores from the value under the second OBR, converted from umol/L', async () => {
    assert.equal(msaCode(await sendMllp(t.gw.mllpPort, message('GP-E2E-1'))), 'AA');
    await t.gw.idle();
    const [obs] = await predictions(t.gw.httpUrl, t.gw.adminToken, 'aki-risk', 'MRN4242');
    const score = (obs?.valueQuantity as { value: number } | undefined)?.value;
    assert.equal(typeof score, 'number');

    // The same model on the values a reader of the message would pick: lab creatinine 0.9 mg/dL.
    const registry = await loadModels('models');
    const model = registry.get('aki-risk')!;
    const [lab] = await model.predict([[79.6 / 88.4, 14, 4.0, 139, 64]]);
    const [poc] = await model.predict([[4.8, 14, 4.0, 139, 64]]);
    await registry.close();
    assert.ok(Math.abs(lab! - poc!) > 0.01, 'the two creatinine values give different scores');
    assert.ok(Math.abs(score! - lab!) < 1e-3, `expected the lab score ${lab}, got ${score} (poc ${poc})`);
  });
});
