import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';

describe('mappings check dry-runs the FHIR write-back (issue 12, item 2)', () => {
  it('builds and validates the write-back of every fixture that triggers scoring', async () => {
    const r = await runCli(['mappings', 'check']);
    assert.equal(r.code, 0, r.stderr);
    const m = /write-back dry-run: (\d+) scoring event\(s\) built and validated, 0 would be refused/.exec(
      r.stdout,
    );
    assert.ok(m, r.stdout);
    assert.ok(
      Number(m[1]) >= 3,
      'the scoring fixtures (the lab panel with MSH-4 "CENTRAL LAB^…" among them)',
    );
  });

  it('fails, naming fixture and element, when write-back would be refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-cards-'));
    cpSync('models', join(dir, 'models'), { recursive: true });
    const cardFile = join(dir, 'models', 'aki-risk', 'card.yaml');
    // A code with two spaces in a row is no FHIR `code`: a validating server refuses the Observation.
    const card = readFileSync(cardFile, 'utf8');
    const changed = card.replace(
      /(output:\s*\n\s*code:\s*\n(?:\s+\w+:.*\n)*?\s+code:\s*)(\S+)/,
      '$1"aki  risk"',
    );
    assert.notEqual(changed, card, 'the test found the output code');
    writeFileSync(cardFile, changed);
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, `paths:\n  models: ${join(dir, 'models')}\n`);
    const r = await runCli(['mappings', 'check'], { GATEWAY_CONFIG: config });
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      /aki-risk <- oru-r01-lab-bmp-crlf-bom-v251\.hl7#1: write-back would be refused: Observation failed validation: Observation\.code/,
    );
  });
});
