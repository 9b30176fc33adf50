import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { createSubscriptionStore } from '../../src/ingest/fhir/subscription-store.js';
import { MllpClient } from '../../src/ingest/mllp/client.js';
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
    t = await startTestGateway({ database: process.env.DATABASE_URL ? 'postgres' : 'pglite' });
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
    // handshake is tested in test/fhir-ingest/subscription.test.ts): 40 events, then a gap to 42.
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

  it('shows models (versions, aliases, card; monitoring hidden while the route answers 404) and subscriptions', async () => {
    await page.getByRole('link', { name: 'Models' }).click();
    await page.locator('#models').waitFor();
    await page.getByRole('link', { name: 'vitals-deterioration' }).click();
    await page.getByRole('heading', { name: 'vitals-deterioration' }).waitFor();
    assert.match((await page.locator('#versions').textContent()) ?? '', /approved/);
    assert.match((await page.locator('#card').textContent()) ?? '', /vitals-deterioration/);
    await page.locator('#chart-batches[data-drawn="true"]').waitFor();
    await page.locator('#chart-queue-delay[data-drawn="true"]').waitFor();
    assert.equal(await page.locator('#monitoring').isHidden(), true);
    await shot('models');
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
      ['401 /stats/overview', '404 /models/vitals-deterioration/monitoring'],
      'only the wrong token, and the monitoring the gateway does not have yet',
    );
  });
});
