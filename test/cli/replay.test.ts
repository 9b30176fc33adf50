import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { progressBar } from '../../src/cli/replay.js';
import { runCli } from '../helpers/cli.js';
import { sendMllp, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';

const OPS = randomBytes(16).toString('hex');
const VIEWER = randomBytes(16).toString('hex');

describe('gateway replay and lineage show on the command line', () => {
  let t: TestGateway;
  let url: string[];
  before(async () => {
    t = await startTestGateway({
      database: 'pglite',
      config: {
        tokens: [
          { name: 'ops', token: OPS, scopes: ['replay', 'read'] },
          { name: 'viewer', token: VIEWER, scopes: ['read'] },
        ],
      },
    });
    url = ['--url', t.gw.httpUrl];
    assert.equal(
      msaCode(await sendMllp(t.gw.mllpPort, vitalsOru({ controlId: 'RCLI-1', mrn: 'RCLI1' }))),
      'AA',
    );
    const poison = vitalsOru({ controlId: 'RCLI-P' }).replace(/PID\|1\|\|[^|]*\|/, 'PID|1|||');
    assert.equal(msaCode(await sendMllp(t.gw.mllpPort, poison)), 'AA');
    await t.gw.idle();
  });
  after(async () => t?.dispose());

  it('draws a progress bar', () => {
    assert.equal(progressBar(0, 4, 8), '[--------] 0/4');
    assert.equal(progressBar(2, 4, 8), '[####----] 2/4');
    assert.equal(progressBar(12, 12, 4), '[####] 12/12');
  });

  it('refuses a token without the replay scope, and a replay without any filter', async () => {
    const denied = await runCli(['replay', 'RCLI-1', ...url, '--token', VIEWER]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /GW_FORBIDDEN: this token lacks the replay scope/);
    const bare = await runCli(['replay', ...url, '--token', OPS]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /replay needs message ids, --from\/--to, --model or --status/);
  });

  it('replays by MSH-10 and by status, and says how it ended', async () => {
    const one = await runCli(['replay', 'RCLI-1', ...url, '--token', OPS]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /replay [0-9a-f-]{36}: 1 message\(s\) queued/);
    assert.match(one.stdout, /replayed 1 message\(s\): processed 1/);
    const dry = await runCli(['replay', '--status', 'failed', '--dry-run', ...url, '--token', OPS]);
    assert.equal(dry.code, 0);
    assert.match(dry.stdout, /would replay 1 of 1 matching message\(s\)/);
    const failed = await runCli(['replay', '--status', 'failed', ...url, '--token', OPS]);
    assert.equal(failed.code, 1, 'a replayed message that fails again makes the exit code 1');
    assert.match(failed.stdout, /replayed 1 message\(s\): failed 1/);
  });

  it('lineage show prints the replay and both writes of the same Observation', async () => {
    const r = await runCli(['lineage', 'show', 'RCLI-1', ...url], { GATEWAY_ADMIN_TOKEN: t.gw.adminToken });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const stages = lines.map((l) => /ms {2}(\w+)/.exec(l)?.[1]).filter(Boolean);
    assert.deepEqual(stages, [
      'received',
      'parsed',
      'mapped',
      'mapped',
      'inferred',
      'written',
      'replayed',
      'parsed',
      'mapped',
      'mapped',
      'inferred',
      'written',
    ]);
    assert.match(r.stdout, /replayed {2}by ops, was processed {2}\(replay [0-9a-f]{8}\)/);
    const written = lines.filter((l) => /ms {2}written/.test(l));
    assert.match(
      written[0]!,
      /written {3}Observation\/[0-9a-f-]+ \(vitals-deterioration@[^;]+; Provenance\//,
    );
    assert.equal(
      written[0]!.replace(/^.*written/, ''),
      written[1]!.replace(/^.*written/, ''),
      'the same resource',
    );
    assert.equal(lines.filter((l) => l.startsWith('  output')).length, 1);
    const failed = await runCli(['lineage', 'show', 'RCLI-P', ...url], {
      GATEWAY_ADMIN_TOKEN: t.gw.adminToken,
    });
    assert.match(failed.stdout, /failed {4}during map: no patient identifier \(PID-3\)/);
  });

  it('lineage verify prints the head hash', async () => {
    const r = await runCli(['lineage', 'verify', ...url], { GATEWAY_ADMIN_TOKEN: t.gw.adminToken });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /lineage ok: \d+ entries verified, head [0-9a-f]{64}/);
  });
});
