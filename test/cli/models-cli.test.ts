import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const COMMITTEE = { name: 'committee', token: 'committee-token-00001', scopes: ['models:approve'] };

describe('gateway models … (through the running gateway)', () => {
  let t: TestGateway;
  let env: Record<string, string>;
  let url: string[];
  before(async () => {
    t = await startTestGateway({ database: 'pglite', config: { tokens: [COMMITTEE] } });
    env = { GATEWAY_ADMIN_TOKEN: t.gw.adminToken, DATA_DIR: t.dataDir };
    url = ['--url', t.gw.httpUrl];
  });
  after(async () => t?.dispose());

  it('imports an MLflow directory as a draft, validates, approves, moves aliases and shows the history', async () => {
    const imp = await runCli(['models', 'import', 'fixtures/mlflow/vitals-deterioration', ...url], env);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /imported vitals-deterioration@1\.1\.0 .* as draft .*mlflow:run_id=3b7e5c1a/);
    // The training reference logged beside the MLflow model (monitoring.yaml) is in the card.
    const shown = await runCli(['models', 'show', 'vitals-deterioration', '--version', '1.1.0', ...url], env);
    const imported = JSON.parse(shown.stdout).card;
    assert.equal(imported.monitoring.reference.size, 9000);
    assert.equal(imported.monitoring.reference.features[0].name, 'heart_rate');

    const val = await runCli(['models', 'validate', 'vitals-deterioration', '1.1.0', ...url], env);
    assert.equal(val.code, 0, val.stderr);
    assert.match(val.stdout, /ok {3}septic shock/);
    assert.match(val.stdout, /validated/);

    const noReason = await runCli(['models', 'approve', 'vitals-deterioration', '1.1.0', ...url], env);
    assert.equal(noReason.code, 2);
    const appr = await runCli(
      ['models', 'approve', 'vitals-deterioration', '1.1.0', '--reason', 'committee 2026-11-20', ...url],
      { ...env, GATEWAY_TOKEN: COMMITTEE.token },
    );
    assert.equal(appr.code, 0, appr.stderr);
    assert.match(appr.stdout, /approved by committee/);

    const alias = await runCli(
      ['models', 'alias', 'vitals-deterioration', 'production', '1.1.0', '--reason', 'promote', ...url],
      env,
    );
    assert.equal(alias.code, 0, alias.stderr);
    assert.match(alias.stdout, /production: 1\.0\.0 -> 1\.1\.0/);
    const back = await runCli(
      ['models', 'alias', 'vitals-deterioration', 'production', '1.0.0', ...url],
      env,
    );
    assert.equal(back.code, 0, back.stderr);

    const hist = await runCli(['models', 'history', 'vitals-deterioration', ...url], env);
    assert.match(hist.stdout, /production\t- -> 1\.0\.0\tby bootstrap/);
    assert.match(hist.stdout, /production\t1\.0\.0 -> 1\.1\.0\tby admin\tpromote/);
    assert.match(hist.stdout, /production\t1\.1\.0 -> 1\.0\.0/);

    const list = await runCli(['models', 'list', ...url], env);
    assert.match(list.stdout, /vitals-deterioration\t1\.0\.0\tsha256:[0-9a-f]{64}\tapproved\tproduction/);
    assert.match(list.stdout, /vitals-deterioration\t1\.1\.0\tsha256:[0-9a-f]{64}\tapproved\t-/);

    const card = await runCli(['models', 'card', 'vitals-deterioration', '--version', '1.1.0', ...url], env);
    assert.match(card.stdout, /# Model card: vitals-deterioration 1\.1\.0/);
    assert.match(card.stdout, /approved \| by committee/);

    const retire = await runCli(['models', 'retire', 'vitals-deterioration', '1.1.0', ...url], env);
    assert.equal(retire.code, 0, retire.stderr);
    const show = await runCli(['models', 'show', 'vitals-deterioration', '--version', '1.1.0', ...url], env);
    assert.match(show.stdout, /"status": "retired"/);
  });

  it('refuses a broken MLflow directory and an unknown command with a clear message', async () => {
    const r = await runCli(['models', 'import', 'fixtures/hl7v2', ...url], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /MLflow model fixtures\/hl7v2: no MLmodel file/);
    const u = await runCli(['models', 'frobnicate', ...url], env);
    assert.equal(u.code, 2);
  });
});
