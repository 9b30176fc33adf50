import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * The command line says what it means (issue 12 item 8): every command that calls the gateway
 * takes --url and --token; `models list|card` reads the bundled files the same way whichever URL;
 * the README quick start shows what the fixture really gets; a start refused for a changed ONNX
 * file names MODEL_INTEGRITY.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const FIXTURE = 'fixtures/hl7v2/oru-r01-vitals-v251.hl7';

describe('command line: --url and --token everywhere', () => {
  let t: TestGateway;
  let url: string[];
  /** No token anywhere but on the command line: an empty DATA_DIR, no token variables. */
  let bare: Record<string, string>;

  before(async () => {
    t = await startTestGateway({ database: 'pglite' });
    url = ['--url', t.gw.httpUrl];
    bare = {
      DATA_DIR: mkdtempSync(join(tmpdir(), 'gw-cli-empty-')),
      GATEWAY_ADMIN_TOKEN: '',
      GATEWAY_TOKEN: '',
    };
  });
  after(async () => t?.dispose());

  it('the no-token error suggests --token, and every API command takes it', async () => {
    const none = await runCli(['lineage', 'verify', ...url], bare);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no token: pass --token/);
    const token = ['--token', t.gw.adminToken];
    // One command of each group that calls the gateway, side by side.
    const runs = [
      ['lineage', 'verify'],
      ['models', 'show', 'vitals-deterioration'],
      ['subscriptions', 'status'],
      ['replay', '--dry-run', '--no-wait', '--status', 'failed'],
    ].map(async (args) => ({ args, r: await runCli([...args, ...url, ...token], bare) }));
    for (const { args, r } of await Promise.all(runs))
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  });

  it('an option a command does not take is a usage error (exit 2), not a crash', async () => {
    const r = await runCli(['lineage', 'verify', '--no-such-option', ...url], bare);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no-such-option/);
    assert.match(r.stderr, /usage: gateway/);
  });

  it('models list reads the bundled files when the gateway at --url is down, as with the default URL', async () => {
    const down = ['--url', 'http://127.0.0.1:9', '--token', 'x'];
    for (const sub of [['list'], ['card', 'aki-risk']]) {
      const r = await runCli(['models', ...sub, ...down], bare);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /cannot reach the gateway at http:\/\/127\.0\.0\.1:9/);
      assert.match(r.stderr, /reading the bundled model files instead/);
      assert.match(r.stdout, /aki-risk/);
    }
    const files = await runCli(['models', 'list', '--files'], bare);
    assert.equal(files.code, 0, files.stderr);
    assert.match(files.stdout, /vitals-deterioration\t1\.0\.0\tsha256:/);
    assert.doesNotMatch(files.stderr, /cannot reach/);
  });

  it('the README quick start shows the ACK the fixture gets and its MSH-10 in `lineage show`', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const msh10 = readFileSync(join(ROOT, FIXTURE), 'latin1')
      .split(/\r\n|\r|\n/)[0]!
      .split('|')[9]!;
    const sendLine = readme.split('\n').find((l) => l.startsWith(`npx gateway send ${FIXTURE}`));
    const promised = /(MSA\|[A-Z]{2}\|[^\s)]*)/.exec(sendLine ?? '')?.[1];
    assert.ok(promised, `README quick start send line: ${sendLine}`);
    const sent = await runCli(
      ['send', FIXTURE, '--host', '127.0.0.1', '--port', String(t.gw.mllpPort)],
      bare,
    );
    assert.equal(sent.code, 0, sent.stderr);
    assert.ok(sent.stdout.includes(promised), `README says ${promised}; send printed:\n${sent.stdout}`);
    assert.ok(
      readme.split('\n').some((l) => l.startsWith(`npx gateway lineage show ${msh10} `)),
      `the quick start's lineage show line names the fixture's MSH-10 ${msh10}`,
    );
    const shown = await runCli(['lineage', 'show', msh10, ...url, '--token', t.gw.adminToken], bare);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /received/);
  });
});

describe('start refused for a changed ONNX file', () => {
  it('names the code MODEL_INTEGRITY', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-integrity-'));
    cpSync(join(ROOT, 'models'), join(dir, 'models'), { recursive: true });
    const onnx = join(dir, 'models', 'aki-risk', 'model.onnx');
    const bytes = readFileSync(onnx);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(onnx, bytes);
    writeFileSync(
      join(dir, 'gateway.yaml'),
      `paths:\n  models: ${join(dir, 'models')}\n  mappings: ${join(ROOT, 'mappings')}\n`,
    );
    const r = await runCli(['serve'], {
      GATEWAY_CONFIG: join(dir, 'gateway.yaml'),
      DATA_DIR: join(dir, 'data'),
      HTTP_PORT: '0',
      MLLP_PORT: '0',
      DATABASE_URL: '',
      REDIS_URL: '',
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /gateway could not start: MODEL_INTEGRITY: model card .*aki-risk/);
  });
});
