/**
 * The model registry: every `<modelsDir>/<name>/card.yaml` with its ONNX file, loaded and
 * verified at start-up. A model whose bytes do not match its card is refused, never served.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { GatewayError } from '../../errors/codes.js';
import { loadModelCard, type ModelCard, ModelCardError } from '../registry/card.js';
import { type LoadedModel, type OpenModelOptions, openModelBytes } from './onnx-model.js';

export { interpret } from '../registry/card.js';
export type { LoadedModel, OpenModelOptions } from './onnx-model.js';
export { ModelInputError, ModelIntegrityError, ModelValidationError } from './onnx-model.js';

/** A mapping's feature list is not the model's feature list in the model's order. */
export class FeatureOrderError extends GatewayError {
  constructor(
    readonly mappingFile: string,
    readonly model: string,
    message: string,
  ) {
    super('MODEL_FEATURE_ORDER', message);
    this.name = 'FeatureOrderError';
  }
}

export interface ModelRegistry {
  /** The version that writes to the EHR (behind `production` in the governed registry). */
  get(name: string): LoadedModel | undefined;
  /** Versions that score and record but never write: shadow, and canary for its share of patients. */
  companions?(name: string, patientKey: string): Array<{ alias: string; model: LoadedModel }>;
  list(): LoadedModel[];
  close(): Promise<void>;
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** A bundled model as found on disk: its card and ONNX bytes, not yet opened. */
export interface BundledModel {
  card: ModelCard;
  cardFile: string;
  onnxFile: string;
  bytes: Buffer;
}

/**
 * Reads every `<modelsDir>/<name>/card.yaml` and its ONNX file (sorted by directory name), checking
 * that the card names its directory and its file lies inside it. Opens no session: the one place a
 * model is opened is openModelBytes, called by loadModels here or by the governed registry.
 */
export async function readBundledModels(modelsDir: string): Promise<BundledModel[]> {
  const entries = await readdir(modelsDir, { withFileTypes: true });
  const dirs = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const out: BundledModel[] = [];
  for (const dir of dirs) {
    const cardFile = join(modelsDir, dir, 'card.yaml');
    if (!(await exists(cardFile))) continue;
    const card = await loadModelCard(cardFile);
    if (card.name !== dir) {
      throw new ModelCardError(cardFile, `name '${card.name}' differs from its directory '${dir}'`);
    }
    const base = resolve(modelsDir, dir);
    const onnxFile = resolve(base, card.onnx.file);
    if (!onnxFile.startsWith(base + sep)) {
      throw new ModelCardError(
        cardFile,
        `onnx.file '${card.onnx.file}' is outside ${relative('.', base) || '.'}`,
      );
    }
    out.push({ card, cardFile, onnxFile, bytes: await readFile(onnxFile) });
  }
  return out;
}

/** Loads every model under `modelsDir` (sorted by directory name); on any failure none stay open. */
export async function loadModels(modelsDir: string, options: OpenModelOptions = {}): Promise<ModelRegistry> {
  const models = new Map<string, LoadedModel>();
  try {
    for (const b of await readBundledModels(modelsDir))
      models.set(b.card.name, await openModelBytes(b.card, b.cardFile, b.bytes, options, b.onnxFile));
  } catch (error) {
    await Promise.allSettled([...models.values()].map((m) => m.close()));
    throw error;
  }
  return {
    get: (name) => models.get(name),
    list: () => [...models.values()],
    close: async () => {
      await Promise.allSettled([...models.values()].map((m) => m.close()));
      models.clear();
    },
  };
}

/**
 * Refuses a mapping whose features are not exactly the model's, in the model's order:
 * `mapping mappings/x.yaml feature #3 is 'spo2' but model vitals-deterioration expects 'respiratory_rate'`.
 */
export function checkFeatureOrder(model: LoadedModel, mappingFeatures: string[], mappingFile: string): void {
  const expected = model.featureNames;
  const count = Math.max(expected.length, mappingFeatures.length);
  for (let i = 0; i < count; i++) {
    const got = mappingFeatures[i];
    const want = expected[i];
    if (got === want) continue;
    const where = `mapping ${mappingFile} feature #${i + 1}`;
    const fail = (message: string): never => {
      throw new FeatureOrderError(mappingFile, model.name, message);
    };
    if (got === undefined) fail(`${where} is missing but model ${model.name} expects '${want}'`);
    if (want === undefined)
      fail(`${where} is '${got}' but model ${model.name} has only ${expected.length} features`);
    fail(`${where} is '${got}' but model ${model.name} expects '${want}'`);
  }
}

/** Refuses start-up when a mapping names a model that is not loaded, or lists its features out of order. */
export function checkMappings(
  models: Pick<ModelRegistry, 'get'>,
  mappings: ReadonlyArray<{ file: string; model: string; features: ReadonlyArray<{ name: string }> }>,
  modelsDir: string,
): void {
  for (const m of mappings) {
    const model = models.get(m.model);
    if (!model) throw new Error(`mapping ${m.file}: model '${m.model}' is not in ${modelsDir}`);
    checkFeatureOrder(
      model,
      m.features.map((f) => f.name),
      m.file,
    );
  }
}
