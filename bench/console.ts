import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Gateway } from '../src/app.js';
import { MllpClient } from '../src/mllp/client.js';
import { withBenchGateway } from './gateway.js';

const CHROMIUM = '/usr/bin/chromium';

export interface ConsolePaint {
  messages: number;
  /** Navigation start -> first contentful paint (the page shell). */
  fcpMs: number;
  /** Navigation start -> the overview's figures on screen (its data call answered and drawn). */
  overviewMs: number;
  /** ... -> its three Plotly charts drawn. */
  chartsMs: number;
  /** Navigation start -> the messages page's first 50 rows on screen. */
  messagesMs: number;
  /** GET /messages server time, median of 20: newest 50; by patient; by status; the 100th page. */
  searchMs: { newest: number; patient: number; status: number; deepPage: number };
  statsMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const adt = (i: number) =>
  `MSH|^~\\&|ADT|HOSP|ML-GATEWAY|HOSP|20240301090000||ADT^A01^ADT_A01|B-ADT-${i}|P|2.5.1\rEVN|A01|20240301090000\rPID|1||MRN${i % 2000}^^^HOSP^MR||Bench^Pat||19480215|F\rPV1|1|I|5W^501^A\r`;
const oru = (i: number) =>
  [
    `MSH|^~\\&|VITALS|WARD5|ML-GATEWAY|HOSP|20240301101500||ORU^R01^ORU_R01|B-ORU-${i}|P|2.5.1`,
    `PID|1||MRN${i % 2000}^^^HOSP^MR||Bench^Pat||19480215|F`,
    `OBR|1||ORD${i}|85353-1^Vital signs panel^LN|||20240301101500`,
    `OBX|1|NM|8867-4^Heart rate^LN||${60 + (i % 80)}|/min^beats per minute^UCUM|||||F|||20240301101500`,
    'OBX|2|NM|9279-1^Respiratory rate^LN||18|/min^breaths per minute^UCUM|||||F|||20240301101500',
    'OBX|3|NM|59408-5^Oxygen saturation^LN||95|%^percent^UCUM|||||F|||20240301101500',
    'OBX|4|NM|8310-5^Body temperature^LN||98.6|[degF]^degree Fahrenheit^UCUM|||||F|||20240301101500',
    'OBX|5|NM|8480-6^Systolic blood pressure^LN||120|mm[Hg]^millimeter of mercury^UCUM|||||F|||20240301101500',
  ].join('\r');

/** Stores `total` messages (one in ten an ORU^R01 that is scored, the rest ADT^A01 that are ignored), processed. */
async function seed(gw: Gateway, total: number): Promise<void> {
  const conns = await Promise.all(
    Array.from({ length: 8 }, () => MllpClient.connect({ host: '127.0.0.1', port: gw.mllpPort })),
  );
  let next = 0;
  await Promise.all(
    conns.map(async (c) => {
      while (next < total) {
        const i = next++;
        await c.send(i % 10 === 0 ? oru(i) : adt(i));
      }
      await c.close();
    }),
  );
  gw.startWorkers();
  await gw.idle(600_000);
}

async function measure(gw: Gateway, messages: number): Promise<ConsolePaint> {
  const api = async (path: string) => {
    const t0 = performance.now();
    const res = await fetch(`${gw.httpUrl}${path}`, {
      headers: { authorization: `Bearer ${gw.adminToken}` },
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
    return performance.now() - t0;
  };
  const times = async (path: string) => {
    const xs: number[] = [];
    for (let i = 0; i < 20; i++) xs.push(await api(path));
    return median(xs);
  };
  let deep = '';
  for (let i = 0; i < 99 && messages > 0; i++) {
    const r = await fetch(`${gw.httpUrl}/messages?limit=50${deep ? `&cursor=${deep}` : ''}`, {
      headers: { authorization: `Bearer ${gw.adminToken}` },
    });
    const next = ((await r.json()) as { nextCursor: string | null }).nextCursor;
    if (!next) break;
    deep = next;
  }
  const searchMs = {
    newest: await times('/messages?limit=50'),
    patient: await times('/messages?limit=50&patient=MRN7'),
    status: await times('/messages?limit=50&status=processed'),
    deepPage: await times(`/messages?limit=50${deep ? `&cursor=${deep}` : ''}`),
  };
  const statsMs = await times('/stats/overview?minutes=60');

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const runs: Array<Omit<ConsolePaint, 'messages' | 'searchMs' | 'statsMs'>> = [];
    for (let round = 0; round < 5; round++) {
      // A fresh context each round: nothing cached, as at an operator's first visit.
      const ctx = await browser.newContext();
      await ctx.addInitScript(
        `sessionStorage.setItem('gateway-console-token', ${JSON.stringify(gw.adminToken)})`,
      );
      const page = await ctx.newPage();
      await page.goto(`${gw.httpUrl}/console#/overview`);
      await page.locator('#kpi-received').waitFor();
      const overviewMs = (await page.evaluate('performance.now()')) as number;
      await page.locator('#chart-latency[data-drawn="true"]').waitFor();
      await page.locator('#chart-throughput[data-drawn="true"]').waitFor();
      const chartsMs = (await page.evaluate('performance.now()')) as number;
      const fcpMs = (await page.evaluate(
        `performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1`,
      )) as number;
      const page2 = await ctx.newPage();
      await page2.goto(`${gw.httpUrl}/console#/messages`);
      await page2.locator('#message-table').waitFor();
      const messagesMs = (await page2.evaluate('performance.now()')) as number;
      runs.push({ fcpMs, overviewMs, chartsMs, messagesMs });
      await ctx.close();
    }
    const m = (k: keyof (typeof runs)[number]) => median(runs.map((r) => r[k]));
    return {
      messages,
      fcpMs: m('fcpMs'),
      overviewMs: m('overviewMs'),
      chartsMs: m('chartsMs'),
      messagesMs: m('messagesMs'),
      searchMs,
      statsMs,
    };
  } finally {
    await browser.close();
  }
}

/**
 * The console's first paint and its data calls with an empty database (the baseline) and with
 * `total` messages stored and processed, in the same run; median of 5 page loads in a fresh
 * browser context each, and of 20 calls for each API figure.
 */
export async function benchConsole(
  database: 'pglite' | 'postgres',
  total = 10_000,
): Promise<{ empty: ConsolePaint; full: ConsolePaint } | undefined> {
  if (!existsSync(CHROMIUM)) return undefined;
  return withBenchGateway(database, {}, async (gw) => {
    const empty = await measure(gw, 0);
    await seed(gw, total);
    const full = await measure(gw, total);
    return { empty, full };
  });
}
