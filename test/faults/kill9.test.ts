import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/open.js';
import { MllpClient } from '../../src/mllp/client.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';
import { type ChildGateway, PG_URL, pgSchema, sleep, spawnGateway, until } from './harness.js';

const KILLS = 4;
const CONNECTIONS = 4;

describe('fault: the gateway killed with kill -9 under load', {
  skip: !PG_URL && 'needs DATABASE_URL',
}, () => {
  let schema: Awaited<ReturnType<typeof pgSchema>>;
  let child: ChildGateway | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'gw-kill9-'));
  let env: Record<string, string>;

  before(async () => {
    schema = await pgSchema('kill9');
    env = {
      DATA_DIR: dataDir,
      DATABASE_URL: PG_URL!,
      DATABASE_SCHEMA: schema.schema,
      MLLP_PORT: '0',
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
    };
  });
  after(async () => {
    if (child && child.child.exitCode === null) {
      child.child.kill('SIGKILL');
      await child.exited;
    }
    await schema?.dispose();
  });

  it('every message that got AA ends with its Observation written exactly once', async (tc) => {
    const acked = new Set<string>();
    let seq = 0;
    for (let round = 0; round < KILLS; round++) {
      child = await spawnGateway(env);
      const g = child;
      let stop = false;
      // Several senders, each as fast as its ACKs come back, until the process dies under them.
      const senders = Array.from({ length: CONNECTIONS }, async () => {
        const c = await MllpClient.connect({ host: '127.0.0.1', port: g.mllpPort, timeoutMs: 5000 });
        try {
          while (!stop) {
            const id = `K9-${seq++}`;
            const ack = await c.send(vitalsOru({ controlId: id, mrn: id }));
            if (msaCode(ack) === 'AA') acked.add(id);
          }
        } catch {
          // The connection died with the process: that message got no ACK, so it is not counted.
        } finally {
          await c.close().catch(() => {});
        }
      });
      await sleep(1500 + Math.floor(Math.random() * 1000));
      g.child.kill('SIGKILL');
      stop = true;
      await g.exited;
      await Promise.all(senders);
    }
    assert.ok(acked.size >= KILLS * 10, `load reached the gateway (${acked.size} AA)`);
    tc.diagnostic(`${acked.size} messages got AA, ${seq} sent, over ${KILLS} kill -9`);

    child = await spawnGateway(env);
    const db = await openDatabase({ databaseUrl: PG_URL!, dataDir: '', schema: schema.schema });
    try {
      await until(
        'every stored message processed after the last restart',
        async () =>
          (await db.query<{ n: number }>(`select count(*)::int as n from inbox where status = 'received'`))
            .rows[0]!.n === 0,
        60_000,
        200,
      );
      const statuses = await db.query<{ control_id: string; status: string }>(
        'select control_id, status from inbox',
      );
      const byId = new Map(statuses.rows.map((r) => [r.control_id, r.status]));
      for (const id of acked) assert.equal(byId.get(id), 'processed', `${id} got AA and was processed`);
      // Observations per patient (one message per patient): exactly one for each AA, never two.
      const counts = await db.query<{ value: string; n: number }>(
        `select value, count(*)::int as n from fhir_search_token
          where resource_type = 'Observation' and param = 'subject:identifier' group by value`,
      );
      const perMrn = new Map(counts.rows.map((r) => [r.value, r.n]));
      for (const id of acked) assert.equal(perMrn.get(id), 1, `${id}: exactly one Observation`);
      assert.ok(
        counts.rows.every((r) => r.n === 1),
        'no message, acknowledged or not, has two Observations',
      );
      const verify = (await (
        await fetch(`${child.httpUrl}/lineage/verify`, {
          headers: {
            authorization: `Bearer ${(await import('node:fs')).readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()}`,
          },
        })
      ).json()) as { ok: boolean };
      assert.equal(verify.ok, true, 'the lineage chain survived every kill');
    } finally {
      await db.close();
      child.child.kill('SIGTERM');
      await child.exited;
    }
  });
});
