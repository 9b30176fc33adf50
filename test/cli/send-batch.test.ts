import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { runCli } from '../helpers/cli.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { vitalsOru } from '../helpers/messages.js';

describe('gateway send: batches, batch ACKs, TLS', () => {
  let t: TestGateway;
  let pki: TestPki;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    pki = makeTestPki();
    t = await startTestGateway({
      database: 'pglite',
      config: {
        mllp: {
          port: 0,
          tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true },
        },
        ack: { batch: 'batch' },
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'gw-send-'));
    env = { GATEWAY_ADMIN_TOKEN: t.gw.adminToken, DATA_DIR: t.dataDir };
  });
  after(async () => {
    await t?.dispose();
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it('sends a FHS/BHS file as one frame over mutual TLS and prints the batch ACK', async () => {
    const file = join(dir, 'batch.hl7');
    writeFileSync(
      file,
      `FHS|^~\\&|VITALS|WARD5|||20240301||||F-1\rBHS|^~\\&|VITALS|WARD5|||20240301||||B-1\r${vitalsOru({ controlId: 'SB-1' })}${vitalsOru({ controlId: 'SB-2' })}BTS|2\rFTS|1\r`,
    );
    const tls = ['--tls-ca', pki.ca, '--tls-cert', pki.clientCert, '--tls-key', pki.clientKey];
    const r = await runCli(
      ['send', file, '--batch', '--host', '127.0.0.1', '--port', String(t.gw.mllpPort), ...tls],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /# .*batch\.hl7: AA AA/);
    assert.match(r.stdout, /^FHS\|\^~\\&\|/m);
    assert.match(r.stdout, /^BHS\|.*\|B-1$/m);
    assert.match(r.stdout, /^BTS\|2$/m);
    // Without a client certificate the gateway refuses the connection.
    const bare = await runCli(
      ['send', file, '--batch', '--port', String(t.gw.mllpPort), '--tls-ca', pki.ca],
      env,
    );
    assert.equal(bare.code, 1);
  });
});
