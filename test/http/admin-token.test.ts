import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveAdminToken } from '../../src/security/auth.js';

describe('the generated admin token', () => {
  it('is kept in DATA_DIR (mode 0600), read again at the next start, and never reads as a CLI option', () => {
    // base64url tokens started with '-' one time in 64, and `--token -…` is then an ambiguous option.
    for (let i = 0; i < 200; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'admin-token-'));
      try {
        const first = resolveAdminToken(undefined, dir);
        assert.equal(first.generated, true);
        assert.match(first.token, /^[0-9a-f]{64}$/);
        assert.equal(statSync(join(dir, 'admin-token')).mode & 0o777, 0o600);
        assert.equal(readFileSync(join(dir, 'admin-token'), 'utf8').trim(), first.token);
        const again = resolveAdminToken(undefined, dir);
        assert.deepEqual([again.token, again.generated], [first.token, false]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
