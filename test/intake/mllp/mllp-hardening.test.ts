import assert from 'node:assert/strict';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { Database } from '../../../src/db/database.js';
import { openDatabase } from '../../../src/db/open.js';
import { Inbox } from '../../../src/inbox/inbox.js';
import { createHl7Intake } from '../../../src/intake/hl7-intake.js';
import { type MllpListenerOptions, startMllpListener } from '../../../src/intake/mllp/listener.js';
import { createLineageStore } from '../../../src/lineage/store.js';
import { MllpClient } from '../../../src/mllp/client.js';
import { encodeFrame } from '../../../src/mllp/codec.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { makeTestPki, type TestPki } from '../../helpers/certs.js';
import { msaCode, vitalsOru } from '../../helpers/messages.js';

describe('MLLP listener hardening', () => {
  let db: Database;
  let pki: TestPki;
  let backlog = 0;
  let delayMs = 0;
  let seq = 0;
  const id = () => `H-${process.pid}-${++seq}`;

  const listen = async (extra: Partial<MllpListenerOptions> = {}) => {
    const inbox = new Inbox(db, createLineageStore(db), {
      maxBatch: 64,
      get maxDelayMs() {
        return delayMs;
      },
      maxPending: 10,
      onCommitted() {},
      backlog: () => backlog,
    });
    const metrics = createMetrics();
    const logger = createLogger('silent');
    const intake = createHl7Intake({ inbox, application: 'GW', facility: '', logger, metrics });
    const l = await startMllpListener({
      host: '127.0.0.1',
      port: 0,
      maxMessageBytes: 64 * 1024,
      maxConnections: 50,
      idleTimeoutMs: 0,
      intake,
      logger,
      metrics,
      ...extra,
    });
    return { listener: l, inbox, metrics };
  };

  before(async () => {
    db = await openDatabase({ dataDir: '', pgliteDir: 'memory://' });
    pki = makeTestPki();
  });
  after(async () => {
    await db.close();
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it('serves MLLP over TLS with mutual TLS, and refuses a client without a certificate', async () => {
    const { listener } = await listen({
      tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true },
    });
    try {
      const c = await MllpClient.connect({
        host: '127.0.0.1',
        port: listener.port,
        tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
      });
      assert.equal(msaCode(await c.send(vitalsOru({ controlId: id() }))), 'AA');
      await c.close();
      await assert.rejects(async () => {
        const anon = await MllpClient.connect({
          host: '127.0.0.1',
          port: listener.port,
          tls: { ca: pki.ca },
        });
        await anon.send(vitalsOru({ controlId: id() }));
      });
      // A server certificate from another CA is refused by the client.
      await assert.rejects(
        MllpClient.connect({
          host: '127.0.0.1',
          port: listener.port,
          tls: { cert: pki.clientCert, key: pki.clientKey },
        }),
      );
    } finally {
      await listener.close();
    }
  });

  it('reloads certificate and key when the files change, without a restart', async () => {
    const cert = join(pki.dir, 'live.pem');
    const key = join(pki.dir, 'live.key');
    copyFileSync(pki.serverCert, cert);
    copyFileSync(pki.serverKey, key);
    const { listener } = await listen({ tls: { cert, key, reloadCheckMs: 100 } });
    const peerCn = () =>
      new Promise<string>((resolve, reject) => {
        const s = tlsConnect(
          { host: '127.0.0.1', port: listener.port, ca: [], rejectUnauthorized: false },
          () => {
            const cn = s.getPeerCertificate().subject?.CN ?? '';
            s.end();
            resolve(String(cn));
          },
        );
        s.once('error', reject);
      });
    try {
      const c = await MllpClient.connect({ host: '127.0.0.1', port: listener.port, tls: { ca: pki.ca } });
      assert.equal(await peerCn(), 'gateway-a');
      pki.issueServer('gateway-b', cert, key);
      const until = Date.now() + 5000;
      let cn = await peerCn();
      while (cn !== 'gateway-b' && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        cn = await peerCn();
      }
      assert.equal(cn, 'gateway-b', 'new handshakes present the renewed certificate');
      // The connection opened before the renewal carries on.
      assert.equal(msaCode(await c.send(vitalsOru({ controlId: id() }))), 'AA');
      await c.close();
    } finally {
      await listener.close();
    }
  });

  it('closes connections from addresses off the allow-list and over the connection limits', async () => {
    const denied = await listen({ allowAddresses: ['10.0.0.0/8', '::1'] });
    try {
      const c = await MllpClient.connect({ host: '127.0.0.1', port: denied.listener.port, timeoutMs: 2000 });
      await assert.rejects(c.send(vitalsOru({ controlId: id() })));
      assert.match(
        await denied.metrics.registry.metrics(),
        /gateway_mllp_connections_refused_total\{reason="address"\} 1/,
      );
    } finally {
      await denied.listener.close();
    }
    const allowed = await listen({ allowAddresses: ['127.0.0.0/8'], maxConnectionsPerAddress: 2 });
    try {
      const a = await MllpClient.connect({ host: '127.0.0.1', port: allowed.listener.port });
      const b = await MllpClient.connect({ host: '127.0.0.1', port: allowed.listener.port });
      assert.equal(msaCode(await a.send(vitalsOru({ controlId: id() }))), 'AA');
      const third = await MllpClient.connect({
        host: '127.0.0.1',
        port: allowed.listener.port,
        timeoutMs: 2000,
      });
      await assert.rejects(
        third.send(vitalsOru({ controlId: id() })),
        'the third connection from one address is closed',
      );
      assert.equal(msaCode(await b.send(vitalsOru({ controlId: id() }))), 'AA');
      await Promise.all([a.close(), b.close()]);
    } finally {
      await allowed.listener.close();
    }
  });

  it('back-pressure: a clear AE (ERR 207, GW_INBOX_FULL) while the inbox is full, AA again after', async () => {
    const { listener } = await listen();
    try {
      const c = await MllpClient.connect({ host: '127.0.0.1', port: listener.port });
      backlog = 10;
      const full = await c.send(vitalsOru({ controlId: id() }));
      assert.equal(msaCode(full), 'AE');
      assert.match(
        full,
        /ERR\|\|\|207\^Application internal error\^HL70357\|E\|\|\|\|GW_INBOX_FULL: inbox is full/,
      );
      backlog = 0;
      assert.equal(msaCode(await c.send(vitalsOru({ controlId: id() }))), 'AA');
      await c.close();
    } finally {
      backlog = 0;
    }
    await listener.close();
  });

  it('graceful shutdown answers frames already received before it closes the connection', async () => {
    delayMs = 300; // commits wait: frames are in flight when close() starts
    const { listener, inbox } = await listen();
    try {
      const c = await MllpClient.connect({ host: '127.0.0.1', port: listener.port });
      const acks = [c.send(vitalsOru({ controlId: id() })), c.send(vitalsOru({ controlId: id() }))];
      await new Promise((r) => setTimeout(r, 50));
      const closing = listener.close();
      assert.deepEqual((await Promise.all(acks)).map(msaCode), ['AA', 'AA']);
      await closing;
      // After close, the listener takes no new connection.
      await assert.rejects(MllpClient.connect({ host: '127.0.0.1', port: listener.port }));
      c.writeRaw(encodeFrame('x'));
    } finally {
      delayMs = 0;
      await inbox.close();
    }
  });
});
