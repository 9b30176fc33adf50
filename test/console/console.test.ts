import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { createSubscriptionStore } from '../../src/intake/fhir/subscription-store.js';
import { MllpClient } from '../../src/mllp/client.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adtA01, msaCode, vitalsOru } from '../helpers/messages.js';

/** Where the screenshots go (CI keeps the folder as an artifact; README "Operator console"). */
export const SHOTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'console');
const CHROMIUM = '/usr/bin/chromium';
const noPatient = (id: string) => vitalsOru({ controlId: id }).replace(/PID\|1\|\|[^|]*\|/, 'PID|1|||');

describe('the console in a real browser (Debian chromium, playwright-core)', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let t: TestGateway;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const problems: string[] = [];
  const failures: string[] = [];
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // Six vital-sign messages make a window: monitoring judges it from 5 inputs (200 by default).
    t = await startTestGateway({
      database: process.env.DATABASE_URL ? 'postgres' : 'pglite',
      config: { monitoring: { minSamples: 5, minLabelled: 4 } },
    });
    const c = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
    const acks: Array<string | undefined> = [];
    for (let i = 1; i <= 6; i++)
      acks.push(
        msaCode(await c.send(vitalsOru({ controlId: `UI-${i}`, mrn: `MRN-UI-${i}`, hr: 60 + i * 12 }))),
      );
    acks.push(msaCode(await c.send(adtA01('UI-ADT'))));
    acks.push(msaCode(await c.send(noPatient('UI-DEAD'))));
    acks.push(
      msaCode(await c.send('MSH|^~\\&|VITALS|WARD5|ML-GATEWAY|HOSP|20240301101500||ORU^R01|||P|2.5.1\r')),
    );
    await c.close();
    assert.deepEqual(acks, ['AA', 'AA', 'AA', 'AA', 'AA', 'AA', 'AA', 'AA', 'AR']);
    await t.gw.idle();
    // A subscription's state as the notification receiver records it (a real source server's
    // handshake is tested in test/intake/fhir/subscription.test.ts): 40 events, then a gap to 42.
    const subs = createSubscriptionStore(t.gw.db);
    const at = (s: number) => new Date(Date.now() - s * 1000);
    await subs.register({
      source: 'ehr',
      subscription: 'vitals-5w',
      topic: 'http://example.org/topic/vital-signs',
      heartbeatSeconds: 60,
      status: 'active',
    });
    await subs.handshake('ehr', 'vitals-5w', 'active', at(3600));
    await subs.events('ehr', 'vitals-5w', 40, 40, 'ok', at(600));
    await subs.events('ehr', 'vitals-5w', 42, 42, 'gap', at(300));
    await subs.heartbeat('ehr', 'vitals-5w', 'active', at(20));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on('request', (r) => requests.push(r.url()));
    page.on('response', (r) => {
      if (r.status() >= 400) failures.push(`${r.status()} ${new URL(r.url()).pathname}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      // A refused request is logged by Chromium too; those are checked one by one below.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        problems.push(`console: ${m.text()}`);
    });
  });
  after(async () => {
    await browser?.close();
    await t?.dispose();
  });

  it('signs in with a token kept in sessionStorage only', async () => {
    await page.goto(`${t.gw.httpUrl}/console`);
    await page.getByLabel('Bearer token').waitFor();
    await shot('sign-in');
    await page.getByLabel('Bearer token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('The gateway did not accept this token.').waitFor();
    await page.getByLabel('Bearer token').fill(t.gw.adminToken);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const stored = await page.evaluate(() => ({
      session: sessionStorage.getItem('gateway-console-token'),
      local: localStorage.length,
      cookie: document.cookie,
    }));
    assert.deepEqual(stored, { session: t.gw.adminToken, local: 0, cookie: '' });
  });

  it('draws the overview charts from the messages sent', async () => {
    await page.locator('#chart-throughput[data-drawn="true"]').waitFor();
    await page.locator('#chart-acks[data-drawn="true"]').waitFor();
    await page.locator('#chart-latency[data-drawn="true"]').waitFor();
    // As a string: functions given to evaluate() would carry tsx's helpers into the page.
    const drawn = (await page.evaluate(`(() => {
      const data = (id) => document.getElementById(id).data;
      const total = (name) => data('chart-throughput').find((d) => d.name === name).y.reduce((a, b) => a + (b ?? 0), 0);
      const acks = data('chart-acks')[0];
      return {
        received: total('received'),
        processed: total('processed'),
        ignored: total('ignored'),
        failed: total('failed'),
        acks: Object.fromEntries(acks.x.map((x, i) => [x, acks.y[i]])),
        latencyBars: data('chart-latency').map((d) => [d.name, d.y.map((v) => (v ?? 0) > 0)]),
        svg: document.querySelectorAll('#chart-throughput svg.main-svg').length,
      };
    })()`)) as { latencyBars: unknown; svg: number } & Record<string, unknown>;
    assert.deepEqual(
      { ...drawn, latencyBars: undefined, svg: undefined },
      {
        received: 8,
        processed: 6,
        ignored: 1,
        failed: 1,
        acks: { AA: 8, AR: 1 },
        latencyBars: undefined,
        svg: undefined,
      },
    );
    assert.deepEqual(drawn.latencyBars, [
      ['p50', [true, true]],
      ['p90', [true, true]],
      ['p99', [true, true]],
    ]);
    assert.ok(drawn.svg > 0, 'Plotly drew SVG');
    assert.equal(await page.locator('#kpi-dead .kpi-value').textContent(), '1');
    assert.match((await page.locator('#senders').textContent()) ?? '', /VITALS\|WARD5\s*7\s*6\s*0\s*1/);
    await shot('overview');
  });

  it('searches messages and opens a lineage timeline with links to the FHIR resources', async () => {
    await page.getByRole('link', { name: 'Messages' }).click();
    await page.locator('#message-table').waitFor();
    assert.equal(await page.locator('#message-table tbody tr').count(), 8);
    await shot('messages');
    await page.getByLabel('Control id (MSH-10)').fill('UI-3');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 message, newest first').waitFor();
    await page.getByRole('link', { name: 'UI-3' }).click();
    await page.getByRole('heading', { name: 'Message UI-3' }).waitFor();
    const stages = await page.locator('#timeline .stage-name').allTextContents();
    assert.deepEqual(stages, ['received', 'parsed', 'mapped', 'mapped', 'inferred', 'written']);
    assert.equal(
      await page.evaluate(() => document.activeElement?.tagName),
      'H1',
      'focus moves to the page heading',
    );
    await shot('lineage');
    const output = page.locator('#outputs a').first();
    const ref = (await output.textContent()) ?? '';
    assert.match(ref, /^Observation\//);
    await output.click();
    await page.locator('#fhir-json').waitFor();
    const resource = JSON.parse((await page.locator('#fhir-json').textContent()) ?? '{}') as Record<
      string,
      unknown
    >;
    assert.equal(`${resource.resourceType}/${resource.id}`, ref);
  });

  it('replays a dead letter from its lineage page', async () => {
    await page.getByRole('link', { name: 'Messages' }).click();
    await page.getByRole('button', { name: 'Clear' }).click(); // the form keeps the last search
    await page.getByLabel('Status').selectOption('failed');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'UI-DEAD' }).click();
    await page.getByRole('heading', { name: 'Message UI-DEAD' }).waitFor();
    await page.getByRole('button', { name: 'Replay this dead letter' }).click();
    await page.locator('#timeline .stage-replayed').waitFor();
    const stages = await page.locator('#timeline .stage-name').allTextContents();
    assert.deepEqual(stages, ['received', 'parsed', 'failed', 'replayed', 'parsed', 'failed']);
    const replays = await t.gw.db.query<{ requested_by: string; n: number }>(
      `select requested_by, cardinality(message_ids) as n from replay_request`,
    );
    assert.deepEqual(replays.rows, [{ requested_by: 'admin', n: 1 }]);
    await page.getByRole('button', { name: /Show raw message/ }).click();
    await page.locator('#raw pre').waitFor();
    assert.match((await page.locator('#raw pre').textContent()) ?? '', /^MSH\|\^~\\&\|VITALS/);
    const views = await t.gw.db.query<{ principal: string; action: string }>(
      'select principal, action from phi_access',
    );
    assert.deepEqual(views.rows, [{ principal: 'admin', action: 'view' }], 'the view is recorded');
    await shot('dead-letter');
  });

  it('shows models: versions, aliases, card, and the monitoring of the messages sent', async () => {
    // A day later two of the six patients were moved to the ICU (the model's outcome), so the
    // predictions get labels at the next evaluation; it also fires the alerts the window calls for.
    const c = await MllpClient.connect({ host: '127.0.0.1', port: t.gw.mllpPort });
    const a02 = (i: number) =>
      [
        `MSH|^~\\&|ADT|HOSP|ML-GATEWAY|HOSP|20240301120000||ADT^A02^ADT_A02|UI-A02-${i}|P|2.5.1`,
        'EVN|A02|20240301120000',
        `PID|1||MRN-UI-${i}^^^HOSP^MR||Testpatient^Alex||19480215|F`,
        'PV1|1|I|ICU^01^A',
      ].join('\r');
    assert.deepEqual([msaCode(await c.send(a02(5))), msaCode(await c.send(a02(6)))], ['AA', 'AA']);
    await c.close();
    await t.gw.idle();
    await t.gw.monitoring.evaluate();
    const report = await t.gw.monitoring.report('vitals-deterioration');

    await page.getByRole('link', { name: 'Models' }).click();
    await page.locator('#models').waitFor();
    await page.getByRole('link', { name: 'vitals-deterioration' }).click();
    await page.getByRole('heading', { name: 'vitals-deterioration' }).waitFor();
    assert.match((await page.locator('#versions').textContent()) ?? '', /approved/);
    assert.match((await page.locator('#card').textContent()) ?? '', /vitals-deterioration/);
    await page.locator('#chart-batches[data-drawn="true"]').waitFor();
    await page.locator('#chart-queue-delay[data-drawn="true"]').waitFor();
    await page.locator('#chart-drift[data-drawn="true"]').waitFor();
    await page.locator('#chart-quality[data-drawn="true"]').waitFor();
    await page.locator('#chart-calibration[data-drawn="true"]').waitFor();
    assert.equal(await page.locator('#monitoring').isVisible(), true);
    assert.match(
      (await page.locator('#monitoring h2').textContent()) ?? '',
      /^Monitoring: version \S+ \(production\)/,
    );
    // The window holds the six vital-sign messages (the one without a patient failed).
    assert.match(
      (await page.locator('#monitoring-window').textContent()) ?? '',
      /^window6 inputs \(6 scored;/,
    );
    const rows = await page
      .locator('#monitoring-features tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent)),
      );
    assert.deepEqual(
      rows.map((r) => r[0]),
      ['heart_rate', 'respiratory_rate', 'spo2', 'body_temperature', 'systolic_bp', 'age'],
      "the mapping's features, in order",
    );
    assert.deepEqual(
      rows.map((r) => r[1]),
      report.features.map((f) => f.status),
    );
    for (const f of report.features)
      assert.ok(['ok', 'warn', 'alert'].includes(f.status), `${f.name} judged`);
    const drawn = (await page.evaluate(`(() => {
      const d = document.getElementById('chart-drift');
      return { features: d.data[0].y, psi: d.data[0].x, lines: d.layout.shapes.map((s) => s.x0) };
    })()`)) as { features: string[]; psi: number[]; lines: number[] };
    assert.deepEqual(drawn, {
      features: report.features.map((f) => f.name),
      psi: report.features.map((f) => f.psi),
      lines: [0.1, 0.2],
    });
    // Two of six labelled positive, as sent.
    assert.match(
      (await page.locator('#monitoring-performance').textContent()) ?? '',
      /labelled6 \(2 positive, prevalence 33\.3 %\); 0 waiting/,
    );
    const alerts = await page.locator('#alerts tbody tr td:first-child').allTextContents();
    assert.deepEqual(
      alerts,
      report.alerts.map((a) => a.labels.alertname),
    );
    assert.ok(alerts.includes('ModelFeatureDrift'), 'the drift the window shows has fired');
    await shot('models');

    // aki-risk has seen no input: said plainly, nothing judged.
    await page.getByRole('link', { name: '← Models' }).click();
    await page.getByRole('link', { name: 'aki-risk' }).click();
    await page.getByRole('heading', { name: 'aki-risk' }).waitFor();
    await page.locator('#monitoring-features').waitFor();
    assert.match(
      (await page.locator('#monitoring').textContent()) ?? '',
      /Insufficient: no input has reached this version yet \(5 are needed/,
    );
    assert.equal(await page.locator('#chart-drift').count(), 0, 'no empty chart');
    assert.deepEqual(
      [...new Set(await page.locator('#monitoring-features tbody tr td:nth-child(2)').allTextContents())],
      ['insufficient'],
    );
    await shot('models-insufficient');

    // Taken out of production, aki-risk has no version to monitor: the route answers 404 and the
    // section stays hidden.
    const cleared = await fetch(`${t.gw.httpUrl}/models/aki-risk/aliases/production`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.gw.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ version: null, reason: 'console test: out of production' }),
    });
    assert.equal(cleared.status, 200);
    const answered = page.waitForResponse((r) => r.url().endsWith('/models/aki-risk/monitoring'));
    await page.reload();
    assert.equal((await answered).status(), 404);
    await page.getByRole('heading', { name: 'aki-risk' }).waitFor();
    assert.match((await page.locator('main').textContent()) ?? '', /Aliases: none/);
    assert.equal(await page.locator('#monitoring').isHidden(), true);

    await page.getByRole('link', { name: 'Subscriptions' }).click();
    await page.locator('#subscriptions').waitFor();
    const row = await page.locator('#subscriptions tbody tr').first().locator('td').allTextContents();
    assert.deepEqual(
      [row[0], row[1], row[3], row[5], row[6], row[7], row[8]],
      ['ehr', 'vitals-5w', 'active', '42', '42', '1', '0'],
    );
    assert.match(row[4] ?? '', /^\d+ s ago \(every 60 s\)$/);
    await shot('subscriptions');
  });

  it('is usable by keyboard, labels every field, and asks nothing of another host', async () => {
    await page.getByRole('link', { name: 'Messages' }).click();
    await page.locator('#search').waitFor();
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select')]
        .filter(
          (el) =>
            !(el.id && document.querySelector(`label[for="${el.id}"]`)) && !el.getAttribute('aria-label'),
        )
        .map((el) => el.outerHTML),
    );
    assert.deepEqual(unlabelled, []);
    const first = await page.evaluate(
      `[...document.querySelectorAll('a[href], button, input, select')].find((e) => !e.closest('[hidden]'))?.textContent`,
    );
    assert.equal(first, 'Skip to content', 'the first stop skips to the page content');
    // After a reload the session holds; focus is on the page heading, the nav is reached backwards.
    await page.reload();
    await page.getByRole('heading', { name: 'Messages' }).waitFor();
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Sign out');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Subscriptions');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Subscriptions' }).waitFor();

    const origin = new URL(t.gw.httpUrl).origin;
    const elsewhere = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:'));
    assert.deepEqual(elsewhere, [], 'every request went to the gateway');
    assert.ok(
      requests.some((u) => /\/console\/vendor\/plotly-[\d.]+\.min\.js$/.test(u)),
      'Plotly from the gateway',
    );
    assert.deepEqual(problems, [], 'no script error and no Content-Security-Policy violation');
    assert.deepEqual(
      failures,
      ['401 /stats/overview', '404 /models/aki-risk/monitoring'],
      'only the deliberate wrong token, and the monitoring of a model taken out of production',
    );
  });
});
