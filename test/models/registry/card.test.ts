import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  interpret,
  loadModelCard,
  ModelCardError,
  parseModelCard,
} from '../../../src/models/registry/card.js';

const CARDS = ['models/vitals-deterioration/card.yaml', 'models/aki-risk/card.yaml'];

describe('model card', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cards-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts both committed cards', async () => {
    for (const file of CARDS) {
      const card = await loadModelCard(file);
      assert.equal(card.output.code.system, 'http://clinical-ml-gateway.dev/fhir/CodeSystem/model-output');
      assert.equal(card.output.code.code, `${card.name}-probability`);
      assert.equal(card.output.unit.code, '1');
      assert.equal(card.trainingData.synthetic, true);
      assert.ok(card.performance.auroc > 0.7, `${card.name} AUROC ${card.performance.auroc}`);
      assert.ok(card.thresholds.some((t) => t.interpretation.code === 'N'));
      assert.ok(card.thresholds.some((t) => t.interpretation.code === 'H'));
    }
  });

  it('names the file and the key path of an invalid value', async () => {
    const value = parse(await readFile(CARDS[0]!, 'utf8'));
    value.features[2].unit = 42;
    const file = join(dir, 'bad.yaml');
    await writeFile(file, JSON.stringify(value));
    await assert.rejects(loadModelCard(file), (error: Error) => {
      assert.ok(error instanceof ModelCardError);
      assert.ok(error.message.startsWith(`model card ${file}: `), error.message);
      assert.match(error.message, /features\.2\.unit/);
      return true;
    });
  });

  it('rejects unknown keys, bad hashes and unordered thresholds', async () => {
    const value = parse(await readFile(CARDS[1]!, 'utf8'));
    value.onnx.sha256 = 'abc';
    value.onnx.extra = true;
    value.thresholds.reverse();
    assert.throws(
      () => parseModelCard(value, 'x/card.yaml'),
      (error: Error) =>
        /onnx\.sha256/.test(error.message) &&
        /onnx: Unrecognized key/.test(error.message) &&
        /thresholds\.1\.atLeast/.test(error.message),
    );
  });

  it('reports unreadable and non-YAML files', async () => {
    await assert.rejects(loadModelCard(join(dir, 'missing.yaml')), /cannot be read/);
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'name: [unclosed\n');
    await assert.rejects(loadModelCard(file), /is not valid YAML/);
  });

  it('interprets probabilities by the highest band reached', async () => {
    const card = await loadModelCard(CARDS[1]!);
    const high = card.thresholds.find((t) => t.interpretation.code === 'H')!;
    assert.equal(interpret(card, 0)?.interpretation.code, 'N');
    assert.equal(interpret(card, Math.max(0, high.atLeast - 1e-6))?.interpretation.code, 'N');
    assert.equal(interpret(card, high.atLeast)?.interpretation.code, 'H');
    assert.equal(interpret(card, 1)?.interpretation.code, 'HH');
    assert.equal(interpret({ ...card, thresholds: [] }, 0.5), undefined);
  });
});
