/**
 * Governed retraining: a retrain request (opened by an operator or by a critical alert) keeps the
 * evidence (the version's monitoring report) and the de-identified dataset of its recent inputs
 * with their labels (CSV and Arrow), tells the training pipeline (`retrain-requested` webhook),
 * and is written to the lineage. A version registered with `retrainedFrom` is an ordinary draft:
 * validate, approve, shadow; its shadow report is shown with the request.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import type { LineageStore } from '../lineage/store.js';
import { aliases, listVersions } from '../models/registry/governance.js';
import { type DatasetRow, toArrow, toCsv } from './dataset.js';
import type { Monitoring, MonitoringConfig } from './monitor.js';

export interface RetrainDeps {
  db: Database;
  lineage: LineageStore;
  monitoring: Monitoring;
  config: MonitoringConfig;
  mappings: ReadonlyArray<{ model: string; features: ReadonlyArray<{ name: string }> }>;
  externalUrl: () => string;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface RetrainRequest {
  id: string;
  model: string;
  version: string;
  openedAt: string;
  openedBy: string;
  trigger: 'operator' | 'alert';
  reason: string;
  status: string;
  rows: number;
  datasets: { csv: string; arrow: string };
  evidence?: unknown;
}

export function createRetraining(d: RetrainDeps) {
  const links = (model: string, id: string) => {
    const base = `${d.externalUrl()}/models/${encodeURIComponent(model)}/retrain-requests/${id}`;
    return { csv: `${base}/dataset.csv`, arrow: `${base}/dataset.arrow` };
  };
  const toRequest = (r: Record<string, unknown>, withEvidence: boolean): RetrainRequest => ({
    id: String(r.id),
    model: String(r.model),
    version: String(r.version),
    openedAt: new Date(r.opened_at as string).toISOString(),
    openedBy: String(r.opened_by),
    trigger: r.trigger as RetrainRequest['trigger'],
    reason: String(r.reason),
    status: String(r.status),
    rows: Number(r.rows),
    datasets: links(String(r.model), String(r.id)),
    ...(withEvidence
      ? { evidence: typeof r.evidence === 'string' ? JSON.parse(r.evidence) : r.evidence }
      : {}),
  });

  async function open(o: {
    model: string;
    version?: string | undefined;
    by: string;
    trigger: 'operator' | 'alert';
    reason: string;
  }) {
    const report = await d.monitoring.report(o.model, o.version);
    const features =
      d.mappings.find((m) => m.model === o.model)?.features.map((f) => f.name) ??
      report.features.map((f) => f.name);
    const r = await d.db.query<Record<string, unknown>>(
      `select vals, score, label, source, alias from monitor_sample
        where model = $1 and version = $2 and score is not null order by seq desc limit $3`,
      [o.model, report.version, d.config.performanceWindow],
    );
    const rows: DatasetRow[] = r.rows.map((x) => ({
      vals: (x.vals as Array<number | null>).map((v) => (v === null ? null : Number(v))),
      score: Number(x.score),
      label: x.label === null ? null : Number(x.label),
      source: String(x.source),
      alias: String(x.alias),
    }));
    const csv = toCsv(features, rows);
    const arrow = toArrow(features, rows);
    const id = `rr-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(5).toString('hex')}`;
    const evidence = { report };
    await d.db.transaction(async (tx) => {
      await tx.query(
        `insert into retrain_request (id, model, version, opened_by, trigger, reason, evidence, rows, dataset_csv, dataset_arrow)
         values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)`,
        [
          id,
          o.model,
          report.version,
          o.by,
          o.trigger,
          o.reason,
          JSON.stringify(evidence),
          rows.length,
          csv,
          arrow,
        ],
      );
      const payload = {
        type: 'retrain-requested',
        id,
        model: o.model,
        version: report.version,
        trigger: o.trigger,
        reason: o.reason,
        openedBy: o.by,
        status: report.status,
        alerts: report.alerts.map((a) => ({
          labels: a.labels,
          annotations: a.annotations,
          startsAt: a.startsAt,
        })),
        performance: {
          labelled: report.performance.labelled,
          auroc: report.performance.auroc,
          brier: report.performance.brier,
        },
        dataset: { rows: rows.length, ...links(o.model, id), csvSha256: sha(csv), arrowSha256: sha(arrow) },
        details: `${d.externalUrl()}/models/${encodeURIComponent(o.model)}/retrain-requests/${id}`,
      };
      for (const w of d.config.retrain.webhooks)
        await tx.query(
          `insert into monitor_outbox (webhook, url, kind, payload) values ($1, $2, 'retrain-requested', $3::jsonb)`,
          [w.name, w.url, JSON.stringify(payload)],
        );
      await d.lineage.append(tx, [
        {
          messageId: `retrain:${id}`,
          stage: 'retrain.requested',
          at: new Date().toISOString(),
          detail: {
            model: o.model,
            version: report.version,
            by: o.by,
            trigger: o.trigger,
            reason: o.reason,
            rows: rows.length,
            csvSha256: sha(csv),
            arrowSha256: sha(arrow),
            status: report.status,
            alerts: report.alerts.map((a) => a.fingerprint),
          },
        },
      ]);
    });
    d.monitoring.outbox.wake();
    return (await get(o.model, id))!;
  }

  async function get(model: string, id: string) {
    const r = await d.db.query<Record<string, unknown>>(
      'select id, model, version, opened_at, opened_by, trigger, reason, status, rows, evidence from retrain_request where model = $1 and id = $2',
      [model, id],
    );
    if (!r.rows[0]) return undefined;
    const live = await aliases(d.db, model);
    const candidates = [];
    for (const v of (await listVersions(d.db, model)).filter((x) => x.retrainedFrom === id)) {
      const alias = live.find((a) => a.version === v.version)?.alias ?? null;
      const shadow =
        alias && alias !== 'production' ? (await d.monitoring.report(model, v.version)).comparison : null;
      candidates.push({
        version: v.version,
        status: v.status,
        alias,
        approvedBy: v.approvedBy,
        shadowReport: shadow,
      });
    }
    return { ...toRequest(r.rows[0], true), candidates };
  }

  return {
    open,
    get,
    async list(model: string) {
      const r = await d.db.query<Record<string, unknown>>(
        'select id, model, version, opened_at, opened_by, trigger, reason, status, rows from retrain_request where model = $1 order by opened_at desc',
        [model],
      );
      return r.rows.map((x) => toRequest(x, false));
    },
    async dataset(model: string, id: string, format: 'csv' | 'arrow'): Promise<Buffer | undefined> {
      const r = await d.db.query<{ data: Uint8Array }>(
        `select ${format === 'csv' ? 'dataset_csv' : 'dataset_arrow'} as data from retrain_request where model = $1 and id = $2`,
        [model, id],
      );
      return r.rows[0] ? Buffer.from(r.rows[0].data) : undefined;
    },
    /** A critical alert fired: open a request unless one is open for the version already. */
    async onAlert(model: string, version: string) {
      if (!d.config.retrain.onAlert) return;
      const r = await d.db.query(
        `select 1 from retrain_request where model = $1 and version = $2 and status = 'open'`,
        [model, version],
      );
      if (r.rows.length > 0) return;
      await open({
        model,
        version,
        by: 'monitoring',
        trigger: 'alert',
        reason: 'a critical monitoring alert fired',
      });
    },
  };
}

export type Retraining = ReturnType<typeof createRetraining>;
