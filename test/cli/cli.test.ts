import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { vitalsTransaction } from '../helpers/fhir-resources.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adtA01, vitalsOru } from '../helpers/messages.js';

describe('gateway command line', () => {
  let t: TestGateway;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    t = await startTestGateway({ database: 'pglite' });
    dir = mkdtempSync(join(tmpdir(), 'gw-cli-'));
    env = { GATEWAY_ADMIN_TOKEN: t.gw.adminToken, DATA_DIR: t.dataDir };
  });
  after(async () => t?.dispose());

  it('send: prints each ACK of a file with a BOM, CRLF and two messages; exit 0 when all AA', async () => {
    const file = join(dir, 'two.hl7');
    writeFileSync(
      file,
      `\uFEFF${vitalsOru({ controlId: 'CLI-1', sep: '\r\n' })}${adtA01('CLI-2').replace(/\r/g, '\r\n')}\r\n`,
    );
    const r = await runCli(['send', file, '--host', '127.0.0.1', '--port', String(t.gw.mllpPort)], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /MSA\|AA\|CLI-1/);
    assert.match(r.stdout, /MSA\|AA\|CLI-2/);
  });

  it('send: a rejected message makes the exit code non-zero; bad input gets a clear error', async () => {
    const file = join(dir, 'bad.hl7');
    writeFileSync(file, 'MSH|^~\\&|A|B|C|D|20240101||ORU^R01||P|2.5\rPID|1\r');
    const r = await runCli(['send', file, '--port', String(t.gw.mllpPort)], env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /MSA\|AR/);
    const missing = await runCli(['send', join(dir, 'nope.hl7')], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such file/);
    const empty = join(dir, 'empty.hl7');
    writeFileSync(empty, 'hello\n');
    assert.match((await runCli(['send', empty], env)).stderr, /no HL7 message/);
    const refused = await runCli(['send', file, '--port', '1'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot connect/);
  });

  it('lineage show prints the timeline of a message; lineage verify checks the chain', async () => {
    await t.gw.idle();
    const show = await runCli(['lineage', 'show', 'CLI-1', '--url', t.gw.httpUrl], env);
    assert.equal(show.code, 0, show.stderr);
    for (const stage of ['received', 'parsed', 'mapped', 'inferred', 'written'])
      assert.match(show.stdout, new RegExp(stage));
    assert.match(show.stdout, /output\s+Observation\//);
    const verify = await runCli(['lineage', 'verify', '--url', t.gw.httpUrl], env);
    assert.equal(verify.code, 0);
    assert.match(verify.stdout, /lineage ok: \d+ entries verified/);
    const unknown = await runCli(['lineage', 'show', 'NO-SUCH-ID', '--url', t.gw.httpUrl], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no lineage record/);
    const badToken = await runCli(['lineage', 'verify', '--url', t.gw.httpUrl], {
      GATEWAY_ADMIN_TOKEN: 'x'.repeat(20),
    });
    assert.notEqual(badToken.code, 0);
  });

  it('models list verifies and lists both demo models; models card prints a card', async () => {
    const list = await runCli(['models', 'list'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /vitals-deterioration\t1\.0\.0\tsha256:[0-9a-f]{64}/);
    assert.match(list.stdout, /aki-risk/);
    const card = await runCli(['models', 'card', 'aki-risk'], env);
    assert.match(card.stdout, /intendedUse/);
    assert.equal((await runCli(['models', 'card', 'nope'], env)).code, 1);
  });

  it('mappings check passes on the shipped mappings and names file, line and field of an error', async () => {
    const ok = await runCli(['mappings', 'check'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /mappings ok/);
    assert.match(ok.stdout, /triggers scoring/);
    const broken = mkdtempSync(join(tmpdir(), 'gw-map-'));
    cpSync('mappings', broken, { recursive: true });
    const file = join(broken, 'vitals-deterioration.yaml');
    const text = readFileSync(file, 'utf8').replace(/unit: \/min/, "unit: '/minn'");
    writeFileSync(file, text);
    const line = text.split('\n').findIndex((l) => l.includes("'/minn'")) + 1;
    const bad = await runCli(['mappings', 'check', '--dir', broken], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`vitals-deterioration\\.yaml:${line} features\\[0\\]\\.unit`));
  });

  it('mappings check dry-runs FHIR files: features per mapping, units converted, refusals by file and element', async () => {
    const fhir = mkdtempSync(join(tmpdir(), 'gw-fhir-'));
    const vitals = join(fhir, 'vitals.json');
    writeFileSync(vitals, JSON.stringify(vitalsTransaction('MRN-DRY', '2024-03-05T07:30:00+00:00', 'dry')));
    const ok = await runCli(['mappings', 'check', '--fhir', vitals], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /fhir \S*vitals\.json \(bundle\): 1 patient group\(s\)/);
    assert.match(ok.stdout, /vitals-deterioration <- vitals\.json: \d+ value\(s\), triggers scoring/);
    assert.match(ok.stdout, /heart_rate = 128 \/min {2}from Observation\/dry-hr/);
    assert.match(ok.stdout, /body_temperature = 39 Cel {2}\(converted from 102\.2 \[degF\]\)/);
    assert.match(
      ok.stdout,
      /systolic_bp = 86 mm\[Hg\] {2}from Observation\/dry-bp\S* {2}fhirpath: Observation\./,
    );
    assert.match(ok.stdout, /mappings ok: .*1 FHIR file\(s\) dry-run, 0 would be refused/);

    // A directory: an invalid Observation, a transaction with one bad entry, a file that is not JSON.
    const bad = structuredClone(vitalsTransaction('MRN-BAD', '2024-03-05T07:30:00+00:00', 'bad'));
    const entry1 = bad.entry[1]!.resource as Record<string, unknown>;
    entry1.status = 'done';
    writeFileSync(join(fhir, 'bad-transaction.json'), JSON.stringify(bad));
    writeFileSync(
      join(fhir, 'bad-observation.json'),
      JSON.stringify({ resourceType: 'Observation', status: 'final', subject: { reference: 'Patient/x' } }),
    );
    writeFileSync(join(fhir, 'not-json.json'), '{"resourceType": ');
    const r = await runCli(['mappings', 'check', '--fhir', fhir], env);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      /bad-transaction\.json: Bundle\.entry\[1\]\.resource\.status: .*\(refused: HTTP 400\)/,
    );
    assert.match(r.stderr, /bad-observation\.json: Observation\.code: .*\(refused: HTTP 400\)/);
    assert.match(r.stderr, /not-json\.json: \$this: the file is not JSON/);
    assert.match(r.stderr, /3 FHIR file\(s\) hold input the gateway would refuse/);
    assert.doesNotMatch(r.stderr, /MRN-BAD/, 'no identifier in an error text');
    assert.match(r.stdout, /vitals-deterioration <- vitals\.json/, 'the good file is still dry-run');

    const missing = await runCli(['mappings', 'check', '--fhir', join(fhir, 'nope.json')], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such file or directory/);
  });

  it('an unknown command prints the usage and exits 2', async () => {
    const r = await runCli(['frobnicate'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command/);
    assert.match(r.stderr, /usage: gateway/);
  });
});
