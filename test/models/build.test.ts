import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildAll, RECIPES } from '../../scripts/models/build.js';

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

describe('demo model build', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'build-models-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rebuilds byte-identical models and cards', async () => {
    const results = await buildAll(dir);
    assert.deepEqual(
      results.map((r) => r.name),
      RECIPES.map((r) => r.name),
    );
    for (const recipe of RECIPES) {
      for (const file of ['model.onnx', 'card.yaml']) {
        assert.equal(
          await sha256(join(dir, recipe.name, file)),
          await sha256(join('models', recipe.name, file)),
          `models/${recipe.name}/${file} is not what scripts/build-models.ts produces; run npm run models:build`,
        );
      }
    }
  });
});
