import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { sendMllp, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

describe('gateway lineage verify on the command line, over shards and checkpoints', () => {
  let t: TestGateway;
  let url: string[];
  before(async () => {
    t = await startTestGateway({
      database: process.env.DATABASE_URL ? 'postgres' : 'pglite',
      config: { lineage: { shards: 4, checkpointEvery: 5 } },
    });
    url = ['--url', t.gw.httpUrl];
    const acks = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        sendMllp(t.gw.mllpPort, vitalsOru({ controlId: `LCLI-${i}`, mrn: `LCLI${i}` })),
      ),
    );
    for (const a of acks) assert.equal(msaCode(a), 'AA');
    await t.gw.idle();
  });
  after(async () => t?.dispose());

  it('prints the entries, shard 0 head, shards and checkpoints when intact', async () => {
    const r = await runCli(['lineage', 'verify', ...url], { GATEWAY_ADMIN_TOKEN: t.gw.adminToken });
    assert.equal(r.code, 0, r.stderr);
    const m = /lineage ok: (\d+) entries verified, head [0-9a-f]{64}; (\d+) shards, (\d+) checkpoints/.exec(
      r.stdout,
    );
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) >= 12 * 5, r.stdout);
    assert.ok(Number(m[2]) >= 1 && Number(m[2]) <= 4, r.stdout);
    assert.ok(Number(m[3]) >= 1, r.stdout);
  });

  it('exports a message as AuditEvents, whichever shards hold its entries', async () => {
    const rec = (await (
      await fetch(`${t.gw.httpUrl}/lineage?controlId=LCLI-3`, {
        headers: { authorization: `Bearer ${t.gw.adminToken}` },
      })
    ).json()) as Array<{ messageId: string }>;
    const res = await fetch(`${t.gw.httpUrl}/lineage/${rec[0]!.messageId}/audit-events`, {
      headers: { authorization: `Bearer ${t.gw.adminToken}` },
    });
    assert.equal(res.status, 200);
    const bundle = (await res.json()) as { entry: Array<{ resource: { id: string; recorded: string } }> };
    const ids = bundle.entry.map((e) => e.resource.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.length >= 5);
    const times = bundle.entry.map((e) => e.resource.recorded);
    assert.deepEqual([...times].sort(), times);
  });

  it('exits 1 and names the entry when one was altered', async () => {
    await t.gw.db.query('drop trigger lineage_append_only on lineage');
    const row = (
      await t.gw.db.query<{ shard: number; seq: string }>(
        `select shard, seq from lineage where stage = 'parsed' order by id desc limit 1`,
      )
    ).rows[0]!;
    await t.gw.db.query(`update lineage set detail = '{"x": 1}'::jsonb where shard = $1 and seq = $2`, [
      row.shard,
      row.seq,
    ]);
    const r = await runCli(['lineage', 'verify', ...url], { GATEWAY_ADMIN_TOKEN: t.gw.adminToken });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /lineage BROKEN at entry \d+: /);
    assert.match(
      r.stdout,
      new RegExp(`altered {3}${row.shard ? `shard ${row.shard} ` : ''}entry ${row.seq}: .*was altered`),
    );
  });
});
