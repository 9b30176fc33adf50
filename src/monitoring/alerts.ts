/**
 * Alerts from monitoring reports: which should be firing (pure), and their reconciliation with
 * the alerts table in one transaction: a new one fires, one no longer wanted resolves, each change
 * queued as an Alertmanager v4 webhook for every receiver and appended to the lineage with its
 * evidence. Rate-limited: a resolved alert does not fire again within minIntervalMs, a firing one
 * is notified again only after repeatIntervalMs. Labels and evidence carry no patient data.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import { canonicalJson } from '../lineage/chain.js';
import type { LineageStore } from '../lineage/store.js';
import type { FeatureReport, Problem, performance, Status, scoreReport } from './report.js';

export interface WantedAlert {
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  evidence: Record<string, unknown>;
}

const NAMES: Record<Problem['kind'], string> = {
  drift: 'ModelFeatureDrift',
  missing: 'ModelFeatureMissing',
  'unit-refused': 'ModelFeatureUnitRefused',
  'out-of-range': 'ModelFeatureOutOfRange',
};
const WHAT: Record<Problem['kind'], string> = {
  drift: 'PSI',
  missing: 'missing rate',
  'unit-refused': 'unit-refused rate',
  'out-of-range': 'out-of-range rate',
};

export function fingerprint(labels: Record<string, string>): string {
  const { severity: _s, ...rest } = labels;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex').slice(0, 16);
}

function alert(
  labels: Record<string, string>,
  summary: string,
  evidence: Record<string, unknown>,
): WantedAlert {
  return { fingerprint: fingerprint(labels), labels, annotations: { summary }, evidence };
}

/**
 * The part of a monitoring report the alert rules read. monitor.ts builds the whole report and
 * calls these rules, so the rules name only what they need and never import monitor.ts back.
 */
export interface AlertInput {
  model: string;
  version: string;
  alias: string | null;
  window: { from: string | null; to: string | null; n: number };
  features: readonly FeatureReport[];
  sources: ReadonlyArray<{ source: string; features: readonly FeatureReport[] }>;
  score: ReturnType<typeof scoreReport>;
  performance: Pick<ReturnType<typeof performance>, 'auroc' | 'labelled'> & { status: Status };
}

/** The alerts a report calls for. */
export function wantedAlerts(r: AlertInput): WantedAlert[] {
  const out: WantedAlert[] = [];
  const base = { model: r.model, version: r.version, severity: 'critical' };
  const window = { from: r.window.from, to: r.window.to, n: r.window.n, alias: r.alias };
  const feature = (f: FeatureReport, source?: string) => {
    for (const p of f.problems) {
      const labels = { alertname: NAMES[p.kind], ...base, feature: f.name, ...(source ? { source } : {}) };
      out.push(
        alert(
          labels,
          `${r.model}@${r.version} ${f.name}${source ? ` from ${source}` : ''}: ${WHAT[p.kind]} ${p.value} >= ${p.limit} over ${f.n} inputs`,
          {
            window,
            feature: f.name,
            ...(source ? { source } : {}),
            [p.kind]: { value: p.value, limit: p.limit },
            psi: f.psi,
            test: f.test,
            missingRate: f.missingRate,
            imputedRate: f.imputedRate,
            unitRefusedRate: f.unitRefusedRate,
            outOfRangeRate: f.outOfRangeRate,
            referenceMean: f.referenceMean,
            liveMean: f.liveMean,
          },
        ),
      );
    }
  };
  for (const f of r.features) feature(f);
  for (const s of r.sources) for (const f of s.features) feature(f, s.source);
  if (r.score.status === 'alert')
    out.push(
      alert(
        { alertname: 'ModelPredictionDrift', ...base },
        `${r.model}@${r.version} score: PSI ${r.score.psi} >= ${r.score.limit}`,
        {
          window,
          score: r.score,
        },
      ),
    );
  if (r.performance.status === 'alert')
    out.push(
      alert(
        { alertname: 'ModelPerformanceDrop', ...base },
        `${r.model}@${r.version}: AUROC ${r.performance.auroc?.value} against ${r.performance.auroc?.card} on the card, ${r.performance.labelled} labelled`,
        { window, auroc: r.performance.auroc, labelled: r.performance.labelled },
      ),
    );
  return out;
}

export interface Receiver {
  name: string;
  url: string;
}

/** The Alertmanager v4 webhook body for one alert. */
export function alertPayload(
  receiver: string,
  a: {
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string | null;
    fingerprint: string;
  },
  externalUrl: string,
) {
  return {
    version: '4',
    groupKey: `{}:{alertname="${a.labels.alertname}"}`,
    truncatedAlerts: 0,
    status: a.status,
    receiver,
    groupLabels: { alertname: a.labels.alertname },
    commonLabels: a.labels,
    commonAnnotations: a.annotations,
    externalURL: externalUrl,
    alerts: [
      {
        status: a.status,
        labels: a.labels,
        annotations: a.annotations,
        startsAt: a.startsAt,
        endsAt: a.endsAt ?? '0001-01-01T00:00:00Z',
        generatorURL: `${externalUrl}/models/${encodeURIComponent(a.labels.model ?? '')}/monitoring?version=${encodeURIComponent(a.labels.version ?? '')}`,
        fingerprint: a.fingerprint,
      },
    ],
  };
}

export interface Reconciled {
  fired: WantedAlert[];
  resolved: string[];
}

/** Brings one version's alerts in line with what its report wants (inside the caller's transaction). */
export async function reconcile(
  tx: Queryable,
  d: {
    lineage: LineageStore;
    receivers: readonly Receiver[];
    externalUrl: string;
    minIntervalMs: number;
    repeatIntervalMs: number;
    now: Date;
  },
  model: string,
  version: string,
  wanted: readonly WantedAlert[],
): Promise<Reconciled> {
  const cur = await tx.query<Record<string, unknown>>(
    'select fingerprint, status, labels, annotations, starts_at, ends_at, notified_at from monitor_alert where model = $1 and version = $2',
    [model, version],
  );
  const byFp = new Map(cur.rows.map((r) => [String(r.fingerprint), r]));
  const now = d.now.toISOString();
  const t = d.now.getTime();
  const fired: WantedAlert[] = [];
  const resolved: string[] = [];
  const notify = async (
    status: 'firing' | 'resolved',
    a: Parameters<typeof alertPayload>[1],
    evidence: unknown,
  ) => {
    for (const r of d.receivers)
      await tx.query(
        'insert into monitor_outbox (webhook, url, kind, payload) values ($1, $2, $3, $4::jsonb)',
        [r.name, r.url, 'alert', JSON.stringify(alertPayload(r.name, a, d.externalUrl))],
      );
    await d.lineage.append(tx, [
      {
        messageId: `monitoring:${model}@${version}`,
        stage: `alert.${status}`,
        at: now,
        detail: { alertname: a.labels.alertname, fingerprint: a.fingerprint, labels: a.labels, evidence },
      },
    ]);
  };
  for (const w of wanted) {
    const c = byFp.get(w.fingerprint);
    if (c && c.status === 'firing') {
      const repeat =
        !c.notified_at ||
        t - Date.parse(String(new Date(c.notified_at as string).toISOString())) >= d.repeatIntervalMs;
      await tx.query(
        `update monitor_alert set evidence = $2::jsonb, annotations = $3::jsonb${repeat ? ', notified_at = $4' : ''} where fingerprint = $1`,
        [w.fingerprint, JSON.stringify(w.evidence), JSON.stringify(w.annotations), ...(repeat ? [now] : [])],
      );
      if (repeat)
        await notify(
          'firing',
          {
            status: 'firing',
            labels: w.labels,
            annotations: w.annotations,
            startsAt: new Date(c.starts_at as string).toISOString(),
            endsAt: null,
            fingerprint: w.fingerprint,
          },
          w.evidence,
        );
      continue;
    }
    if (c?.ends_at && t - new Date(c.ends_at as string).getTime() < d.minIntervalMs) continue;
    await tx.query(
      `insert into monitor_alert (fingerprint, alertname, model, version, labels, annotations, status, starts_at, ends_at, notified_at, evidence)
       values ($1, $2, $3, $4, $5::jsonb, $6::jsonb, 'firing', $7, null, $7, $8::jsonb)
       on conflict (fingerprint) do update set status = 'firing', starts_at = excluded.starts_at, ends_at = null,
         notified_at = excluded.notified_at, labels = excluded.labels, annotations = excluded.annotations, evidence = excluded.evidence`,
      [
        w.fingerprint,
        w.labels.alertname,
        model,
        version,
        JSON.stringify(w.labels),
        JSON.stringify(w.annotations),
        now,
        JSON.stringify(w.evidence),
      ],
    );
    await notify(
      'firing',
      {
        status: 'firing',
        labels: w.labels,
        annotations: w.annotations,
        startsAt: now,
        endsAt: null,
        fingerprint: w.fingerprint,
      },
      w.evidence,
    );
    fired.push(w);
  }
  const wantedFps = new Set(wanted.map((w) => w.fingerprint));
  for (const c of cur.rows) {
    const fp = String(c.fingerprint);
    if (c.status !== 'firing' || wantedFps.has(fp)) continue;
    await tx.query(
      `update monitor_alert set status = 'resolved', ends_at = $2, notified_at = $2 where fingerprint = $1`,
      [fp, now],
    );
    const labels = (typeof c.labels === 'string' ? JSON.parse(c.labels) : c.labels) as Record<string, string>;
    const annotations = (
      typeof c.annotations === 'string' ? JSON.parse(c.annotations) : c.annotations
    ) as Record<string, string>;
    await notify(
      'resolved',
      {
        status: 'resolved',
        labels,
        annotations,
        startsAt: new Date(c.starts_at as string).toISOString(),
        endsAt: now,
        fingerprint: fp,
      },
      { resolvedAt: now },
    );
    resolved.push(fp);
  }
  return { fired, resolved };
}

/** Alerts firing now for a version (the route's `alerts`). */
export async function firingAlerts(db: Queryable, model: string, version: string) {
  const r = await db.query<Record<string, unknown>>(
    `select fingerprint, labels, annotations, starts_at, evidence from monitor_alert
      where model = $1 and version = $2 and status = 'firing' order by starts_at`,
    [model, version],
  );
  const j = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
  return r.rows.map((x) => ({
    fingerprint: String(x.fingerprint),
    labels: j(x.labels) as Record<string, string>,
    annotations: j(x.annotations) as Record<string, string>,
    startsAt: new Date(x.starts_at as string).toISOString(),
    evidence: j(x.evidence),
  }));
}
