import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';

describe('config', () => {
  it('has defaults for every key and is frozen', () => {
    const c = loadConfig({}, mkdtempSync(join(tmpdir(), 'cfg-')));
    assert.equal(c.mllp.port, 2575);
    assert.equal(c.http.port, 8080);
    assert.equal(c.host, '127.0.0.1');
    assert.ok(Object.isFrozen(c.mllp));
  });

  it('lets the environment override the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'gateway.yaml'), 'mllp:\n  port: 3000\nhttp:\n  port: 9000\n');
    const c = loadConfig({ MLLP_PORT: '4000', DATA_DIR: '/tmp/x' }, dir);
    assert.equal(c.mllp.port, 4000);
    assert.equal(c.http.port, 9000);
    assert.equal(c.dataDir, '/tmp/x');
  });

  it('stops on a bad file naming the file, key path and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'mllp:\n  port: 3000\n  maxMesageBytes: 5\nhttp:\n  port: -1\n');
    assert.throws(
      () => loadConfig({ GATEWAY_CONFIG: file }, dir),
      (e: ConfigError) =>
        e instanceof ConfigError &&
        e.message.includes(file) &&
        /mllp\.maxMesageBytes \(line 3\)/.test(e.message) &&
        /http\.port \(line 5\)/.test(e.message),
    );
    assert.throws(() => loadConfig({ HTTP_PORT: 'eighty' }, dir), /HTTP_PORT/);
    assert.throws(() => loadConfig({ GATEWAY_CONFIG: join(dir, 'missing.yaml') }, dir), /file not found/);
  });
});
