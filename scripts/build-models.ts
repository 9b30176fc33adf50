/**
 * Builds the demo models and their cards: `npm run models:build [-- --out DIR]`.
 * Deterministic: the same code gives byte-identical models/<name>/model.onnx and card.yaml.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildAll } from './models/build.js';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'models' } } });
const outDir = resolve(values.out ?? 'models');
for (const result of await buildAll(outDir)) {
  console.log(
    `${result.name}: sha256 ${result.sha256} holdout n=${result.holdout} AUROC ${result.auroc.toFixed(4)} Brier ${result.brier.toFixed(4)}`,
  );
}
console.log(`wrote ${outDir}`);
