import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startGateway } from '../../src/app.js';
import { configSchema } from '../../src/config/schema.js';
import { MllpClient } from '../../src/mllp/client.js';
import { createLogger } from '../../src/observability/logger.js';
import { predictions, sendMllp, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('operations', () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway({ database: 'pglite', config: { mllp: { port: 0, maxMessageBytes: 4096 } } });
  });
  after(async () => t?.dispose());

  it('answers /health/live, /health/ready and /metrics without a token', async () => {
    assert.equal((await fetch(`${t.gw.httpUrl}/health/live`)).status, 200);
    const ready = await fetch(`${t.gw.httpUrl}/health/ready`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { checks: Record<string, { status: string }> };
    assert.deepEqual(Object.keys(body.checks).sort(), ['database', 'egress', 'fhir', 'models', 'queue']);
    assert.ok(Object.values(body.checks).every((c) => c.status === 'up'));
    assert.equal(msaCode(await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: 'OPS-1' }))), 'AA');
    await t.gw.idle();
    const metrics = await (await fetch(`${t.gw.httpUrl}/metrics`)).text();
    assert.match(metrics, /gateway_acks_total\{channel="mllp",code="AA"\} [1-9]/);
    assert.match(metrics, /gateway_stage_duration_seconds_count\{stage="infer"\} [1-9]/);
    assert.match(metrics, /gateway_predictions_total\{model="vitals-deterioration",version="1.0.0"\} 1/);
    assert.equal((await fetch(`${t.gw.httpUrl}/models`)).status, 401);
  });

  it('answers AR (ERR 104) to a frame over the size limit and keeps the connection', async () => {
    const c = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
    const big = `${vitalsOru({ controlId: 'OPS-BIG' })}NTE|1||${'x'.repeat(8000)}\r`;
    const ack = await c.send(big);
    assert.equal(msaCode(ack), 'AR');
    assert.match(ack, /\|OPS-BIG/);
    assert.match(ack, /104\^Value too long\^HL70357/);
    assert.equal(msaCode(await c.send(vitalsOru({ controlId: 'OPS-SMALL' }))), 'AA');
    await c.close();
  });
});

describe('logs carry no message content and no patient identifier', () => {
  it('at debug level, through success and failure', async () => {
    const lines: string[] = [];
    const logger = createLogger('debug', { write: (s: string) => void lines.push(s) } as never);
    const config = configSchema.parse({
      dataDir: mkdtempSync(join(tmpdir(), 'gw-log-')),
      mllp: { port: 0 },
      http: { port: 0 },
      log: { level: 'debug' },
    });
    const gw = await startGateway(config, { logger });
    try {
      const mrn = 'PHI98765';
      const msg = vitalsOru({ controlId: 'LOG-1', mrn }).replace('Testpatient^Alex', 'Zebediah^Quux');
      assert.equal(msaCode(await sendMllp(gw.mllpPort, msg)), 'AA');
      await sendMllp(gw.mllpPort, msg.replace('LOG-1', '').replace('MSH|', 'MSH|')); // AR: no MSH-10
      await sendMllp(gw.mllpPort, `garbage ${mrn} Zebediah`);
      await gw.idle();
    } finally {
      await gw.close();
    }
    const all = lines.join('');
    assert.ok(lines.length > 5, 'the gateway logged');
    for (const secret of ['PHI98765', 'Zebediah', 'Quux', '19480215', 'OBX|'])
      assert.ok(!all.includes(secret), secret);
  });
});

describe('durability', () => {
  it('keeps the FHIR store, the lineage and duplicate detection across a restart (PGlite)', async () => {
    const first = await startTestGateway({ database: 'pglite' });
    assert.equal(msaCode(await sendMllp(first.gw.mllpPort, vitalsOru({ controlId: 'RESTART-1' }))), 'AA');
    await first.gw.idle();
    const before = await predictions(first.gw.httpUrl, first.gw.adminToken);
    await first.stop();
    const second = await startTestGateway({ database: 'pglite', dataDir: first.dataDir });
    try {
      assert.equal(second.gw.adminToken, first.gw.adminToken, 'the generated token is kept in DATA_DIR');
      assert.deepEqual(
        (await predictions(second.gw.httpUrl, second.gw.adminToken)).map((o) => o.id),
        before.map((o) => o.id),
      );
      assert.equal(msaCode(await sendMllp(second.gw.mllpPort, vitalsOru({ controlId: 'RESTART-1' }))), 'AA');
      await second.gw.idle();
      assert.equal((await predictions(second.gw.httpUrl, second.gw.adminToken)).length, 1);
      const verify = await fetch(`${second.gw.httpUrl}/lineage/verify`, {
        headers: { authorization: `Bearer ${second.gw.adminToken}` },
      });
      assert.equal(((await verify.json()) as { ok: boolean }).ok, true);
    } finally {
      await second.dispose();
    }
  });

  it('an AA survives kill -9 right after it: the message is processed after restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gw-kill-'));
    const env = {
      ...process.env,
      DATA_DIR: dataDir,
      MLLP_PORT: '0',
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: '',
      REDIS_URL: '',
      GATEWAY_CONFIG: '',
    };
    const start = () =>
      new Promise<{ child: ChildProcess; mllp: number; http: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'main.ts')], {
          cwd: ROOT,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d;
          const m = /"mllp":"[^"]*:(\d+)","http":"([^"]+)"/.exec(out);
          if (m) resolve({ child, mllp: Number(m[1]), http: m[2]! });
        });
        child.on('exit', (code) => reject(new Error(`gateway exited ${code}: ${out.slice(-500)}`)));
      });
    let g = await start();
    const token = (await import('node:fs')).readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const c = await MllpClient.connect({ host: '127.0.0.1', port: g.mllp });
    const acks = await Promise.all(
      Array.from({ length: 20 }, (_, i) => c.send(vitalsOru({ controlId: `KILL-${i}`, mrn: `K${i}` }))),
    );
    g.child.kill('SIGKILL');
    assert.ok(acks.every((a) => msaCode(a) === 'AA'));
    await new Promise((r) => g.child.once('exit', r));
    g = await start();
    try {
      const until = Date.now() + 60_000;
      let found: Array<Record<string, unknown>> = [];
      while (Date.now() < until) {
        found = await predictions(g.http, token);
        if (found.length >= 20) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const mrns = found.map((o) => (o.subject as { identifier: { value: string } }).identifier.value).sort();
      assert.deepEqual(
        mrns,
        Array.from({ length: 20 }, (_, i) => `K${i}`).sort(),
        'each AA ends in exactly one Observation',
      );
    } finally {
      g.child.kill('SIGTERM');
      await new Promise((r) => g.child.once('exit', r));
    }
  });
});

describe('several processes of work on Redis (BullMQ) and PostgreSQL', {
  skip: !process.env.REDIS_URL || !process.env.DATABASE_URL,
}, () => {
  it('scores through the BullMQ queue', async () => {
    const t = await startTestGateway({ database: 'postgres', queue: 'bullmq' });
    try {
      assert.equal(t.gw.queue.kind, 'bullmq');
      assert.equal(msaCode(await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: 'BULL-1' }))), 'AA');
      await t.gw.idle();
      assert.equal((await predictions(t.gw.httpUrl, t.gw.adminToken)).length, 1);
    } finally {
      await t.dispose();
    }
  });
});
