import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before } from 'node:test';
import {
  type LoadedModel,
  loadModels,
  type ModelRegistry,
  type OpenModelOptions,
} from '../../src/models/runtime/loader.js';

/** The bundled demo models (models/ at the repository root). */
export const DEMO_MODELS_DIR = join(import.meta.dirname, '..', '..', 'models');

/** Batcher options for tests that want every row scored promptly and nothing refused. */
export const TEST_BATCHER = { maxBatchSize: 16, maxQueueDelayMs: 0, maxQueue: 10_000, deadlineMs: 5000 };

export interface DemoModels {
  /** The loaded registry (from the suite's first `before` on). */
  readonly registry: ModelRegistry;
  /** A loaded model by name; fails the test when it is not there. */
  model(name: string): LoadedModel;
  /** The ONNX bytes of a model, as the inference thread is given them. */
  onnx(name: string): Buffer;
}

/**
 * Loads the demo models once for the calling suite (a `before` hook) and closes them after it:
 * the set-up the model runtime tests share. Call it inside `describe`, before the suite's own hooks.
 */
export function useDemoModels(options: OpenModelOptions = {}): DemoModels {
  let registry: ModelRegistry | undefined;
  const bytes = new Map<string, Buffer>();
  before(async () => {
    registry = await loadModels(DEMO_MODELS_DIR, options);
    for (const m of registry.list())
      bytes.set(m.name, await readFile(join(DEMO_MODELS_DIR, m.name, 'model.onnx')));
  });
  after(async () => registry?.close());
  return {
    get registry() {
      assert.ok(registry, 'the demo models are loaded (useDemoModels runs in before)');
      return registry;
    },
    model(name) {
      const model = this.registry.get(name);
      assert.ok(model, `model ${name} is loaded`);
      return model;
    },
    onnx(name) {
      const b = bytes.get(name);
      assert.ok(b, `model ${name} has its ONNX bytes`);
      return b;
    },
  };
}
