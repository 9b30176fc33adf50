import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  checkFeatureOrder,
  FeatureOrderError,
  interpret,
  loadModels,
  ModelInputError,
  ModelIntegrityError,
  ModelValidationError,
} from '../../../src/models/runtime/loader.js';
import { DEMO_MODELS_DIR, useDemoModels } from '../../helpers/models.js';

const MODELS_DIR = DEMO_MODELS_DIR;

describe('model registry', () => {
  const demo = useDemoModels({ verifyGoldenCases: false });

  it('loads both demo models with their card metadata', () => {
    assert.deepEqual(
      demo.registry.list().map((m) => m.name),
      ['aki-risk', 'vitals-deterioration'],
    );
    const vitals = demo.model('vitals-deterioration');
    assert.deepEqual(vitals.featureNames, [
      'heart_rate',
      'respiratory_rate',
      'spo2',
      'body_temperature',
      'systolic_bp',
      'age',
    ]);
    assert.deepEqual(demo.model('aki-risk').featureNames, [
      'creatinine',
      'urea_nitrogen',
      'potassium',
      'sodium',
      'age',
    ]);
    for (const model of demo.registry.list()) {
      assert.equal(model.version, '1.0.0');
      assert.match(model.sha256, /^[0-9a-f]{64}$/);
      assert.equal(model.sha256, model.card.onnx.sha256);
    }
    assert.equal(demo.registry.get('nope'), undefined);
  });

  it('reproduces every golden case within tolerance', async () => {
    for (const model of demo.registry.list()) {
      const cases = model.card.goldenCases;
      assert.ok(cases.length >= 5, `${model.name} has golden cases`);
      const got = await model.predict(cases.map((c) => c.features));
      cases.forEach((c, i) => {
        assert.ok(
          Math.abs(got[i]! - c.probability) <= 1e-5,
          `${model.name} '${c.name}': ${got[i]} vs ${c.probability}`,
        );
      });
    }
  });

  it('scores a clearly sick patient above a healthy one', async () => {
    const vitals = demo.model('vitals-deterioration');
    const [healthy, sick] = await vitals.predict([
      [70, 14, 98, 36.8, 125, 40],
      [128, 30, 87, 39.4, 84, 78],
    ]);
    assert.ok(healthy! < 0.05 && sick! > 0.8, `healthy ${healthy}, sick ${sick}`);
    const aki = demo.model('aki-risk');
    const [normal, injured] = await aki.predict([
      [0.8, 14, 4.0, 140, 40],
      [3.4, 70, 6.0, 131, 77],
    ]);
    assert.ok(normal! < 0.05 && injured! > 0.5, `normal ${normal}, injured ${injured}`);
  });

  it('gives the same answer batched as row by row, for arrays and Float32Array', async () => {
    for (const model of demo.registry.list()) {
      const rows = model.card.goldenCases.map((c) => c.features);
      const batched = await model.predict(rows);
      const flat = await model.predict(Float32Array.from(rows.flat()), rows.length);
      const single = [];
      for (const r of rows) single.push(...(await model.predict([r])));
      assert.deepEqual(batched, single);
      assert.deepEqual(flat, single);
      assert.ok(batched.every((p) => p >= 0 && p <= 1));
    }
  });

  it('rejects rows of the wrong width or with non-finite values', async () => {
    const aki = demo.model('aki-risk');
    assert.deepEqual(await aki.predict([]), []);
    await assert.rejects(aki.predict([[1, 2, 3]]), ModelInputError);
    await assert.rejects(aki.predict([[1, 20, 4, Number.NaN, 50]]), ModelInputError);
    await assert.rejects(aki.predict(new Float32Array(7)), ModelInputError);
  });

  it('maps probabilities to the card threshold bands', () => {
    const card = demo.model('vitals-deterioration').card;
    assert.equal(interpret(card, 0.01)?.interpretation.code, 'N');
    assert.equal(interpret(card, 0.2)?.interpretation.code, 'H');
    assert.equal(interpret(card, 0.97)?.interpretation.code, 'HH');
  });

  it('reports a mapping whose features differ from the model', () => {
    const vitals = demo.model('vitals-deterioration');
    checkFeatureOrder(vitals, [...vitals.featureNames], 'mappings/ok.yaml');
    const swapped = ['heart_rate', 'spo2', 'respiratory_rate', 'body_temperature', 'systolic_bp', 'age'];
    assert.throws(
      () => checkFeatureOrder(vitals, swapped, 'mappings/x.yaml'),
      (error: Error) =>
        error instanceof FeatureOrderError &&
        error.message ===
          "mapping mappings/x.yaml feature #2 is 'spo2' but model vitals-deterioration expects 'respiratory_rate'",
    );
    assert.throws(
      () => checkFeatureOrder(vitals, vitals.featureNames.slice(0, 5), 'mappings/x.yaml'),
      /feature #6 is missing but model vitals-deterioration expects 'age'/,
    );
    assert.throws(
      () => checkFeatureOrder(vitals, [...vitals.featureNames, 'lactate'], 'mappings/x.yaml'),
      /feature #7 is 'lactate' but model vitals-deterioration has only 6 features/,
    );
  });
});

describe('model integrity', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'models-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('verifies golden cases at load time by default', async () => {
    const registry = await loadModels(MODELS_DIR);
    assert.equal(registry.list().length, 2);
    await registry.close();
  });

  it('refuses an ONNX file with one flipped byte', async () => {
    const target = join(dir, 'tampered');
    await cp(join(MODELS_DIR, 'aki-risk'), join(target, 'aki-risk'), { recursive: true });
    const onnxFile = join(target, 'aki-risk', 'model.onnx');
    const bytes = await readFile(onnxFile);
    bytes[bytes.length >> 1]! ^= 0x01;
    await writeFile(onnxFile, bytes);
    const card = join(target, 'aki-risk', 'card.yaml');
    await assert.rejects(loadModels(target), (error: Error) => {
      assert.ok(error instanceof ModelIntegrityError);
      assert.ok(error.message.includes(card), error.message);
      assert.ok(error.message.includes(error.expected) && error.message.includes(error.actual));
      assert.notEqual(error.expected, error.actual);
      return true;
    });
  });

  it('refuses a card whose golden case no longer reproduces', async () => {
    const target = join(dir, 'golden');
    await cp(join(MODELS_DIR, 'vitals-deterioration'), join(target, 'vitals-deterioration'), {
      recursive: true,
    });
    const cardFile = join(target, 'vitals-deterioration', 'card.yaml');
    const text = await readFile(cardFile, 'utf8');
    await writeFile(cardFile, text.replace(/probability: 0\.0/, 'probability: 0.3'));
    await assert.rejects(loadModels(target), (error: Error) => {
      assert.ok(error instanceof ModelValidationError);
      assert.match(error.message, /golden case #1/);
      return true;
    });
  });

  it('refuses a card that declares a different feature count than the graph', async () => {
    const target = join(dir, 'width');
    await cp(join(MODELS_DIR, 'aki-risk'), join(target, 'aki-risk'), { recursive: true });
    const cardFile = join(target, 'aki-risk', 'card.yaml');
    const text = await readFile(cardFile, 'utf8');
    const trimmed = text
      .replace(/ {2}- name: age\n(?: {4}.*\n)+/, '')
      .replace(/goldenCases:[\s\S]*?goldenTolerance/, 'goldenTolerance');
    await writeFile(cardFile, trimmed);
    await assert.rejects(loadModels(target), /shape \[N, 5\] but the card lists 4 features/);
  });
});
