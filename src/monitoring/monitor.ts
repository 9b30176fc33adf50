/**
 * Model monitoring, wired: the finish hook that records every model input, the report of a
 * version (the route, the CLI, the card), and the evaluation every `monitoring.evaluateIntervalMs`
 * in every process: label what is due, compute each live version's report, set the gauges; the
 * process that holds the lock then reconciles the alerts (so several processes send one alert).
 */
import type { GatewayConfig } from '../config/schema.js';
import type { Database } from '../db/database.js';
import { GatewayError } from '../errors/codes.js';
import type { Mapping } from '../features/mapping.js';
import type { LineageStore } from '../lineage/store.js';
import { aliases, getVersion } from '../models/registry/governance.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { FinishHook } from '../pipeline/process.js';
import { firingAlerts, reconcile, wantedAlerts } from './alerts.js';
import { monitoringHook } from './hook.js';
import type { OutcomeDefinition } from './outcomes.js';
import { comparison, featureReports, performance, type Status, scoreReport, worst } from './report.js';
import { labelDue, pendingLabels, prune, readLabelled, readPairs, readWindow } from './store.js';
import { type OutboxSender, startOutboxSender } from './webhooks.js';

const EVALUATE_LOCK = 727_013;

export type MonitoringConfig = GatewayConfig['monitoring'];

export interface MonitoringDeps {
  db: Database;
  lineage: LineageStore;
  logger: Logger;
  metrics: Metrics;
  mappings: readonly Mapping[];
  outcomes: readonly OutcomeDefinition[];
  config: MonitoringConfig;
  externalUrl: () => string;
  /** A critical alert fired for a version (opens a retrain request when configured). */
  onFired?(model: string, version: string, evidence: unknown): Promise<void>;
}

export type MonitoringReport = Awaited<ReturnType<ReturnType<typeof createMonitoring>['report']>>;

export function createMonitoring(d: MonitoringDeps) {
  const cfg = d.config;
  const features = (model: string) =>
    d.mappings.find((m) => m.model === model)?.features.map((f) => f.name) ?? [];
  const opts = { minSamples: cfg.minSamples };

  async function report(name: string, version?: string) {
    const live = await aliases(d.db, name);
    const prod = live.find((a) => a.alias === 'production');
    const v = version ?? prod?.version;
    const mv = v ? await getVersion(d.db, name, v) : undefined;
    if (!v || !mv) throw new GatewayError('GW_NOT_FOUND', `model version ${name}${v ? `@${v}` : ''}`);
    const card = mv.card;
    const names = features(name).length ? features(name) : card.features.map((f) => f.name);
    const win = await readWindow(d.db, name, v, cfg.windowSize);
    const feats = featureReports(card.monitoring, names, win.rows, opts);
    const bySource = new Map<string, typeof win.rows>();
    for (const r of win.rows) {
      const list = bySource.get(r.source);
      if (list) list.push(r);
      else bySource.set(r.source, [r]);
    }
    const sources = [...bySource].map(([source, rows]) => {
      const fs = featureReports(card.monitoring, names, rows, opts);
      return {
        source,
        n: rows.length,
        status: worst(
          fs.map((f) => f.status),
          'insufficient',
        ),
        features: fs,
      };
    });
    const score = scoreReport(card, win.rows, opts);
    const outcome = d.outcomes.find((o) => o.model === name);
    const perf = performance(card, await readLabelled(d.db, name, v, cfg.performanceWindow));
    const drop = card.monitoring?.thresholds.aurocDrop ?? 0.1;
    const perfStatus: Status = !outcome
      ? 'no reference'
      : perf.labelled < cfg.minLabelled || perf.auroc.value === null
        ? 'insufficient'
        : perf.auroc.value < card.performance.auroc - drop
          ? 'alert'
          : 'ok';
    const alias = live.find((a) => a.version === v)?.alias ?? null;
    let compared: (ReturnType<typeof comparison> & { against: string }) | null = null;
    if (alias !== 'production' && prod) {
      const pv = await getVersion(d.db, name, prod.version);
      if (pv)
        compared = {
          against: prod.version,
          ...comparison(card, pv.card, await readPairs(d.db, name, v, cfg.performanceWindow)),
        };
    }
    const perfBlock = {
      outcome: outcome
        ? { description: outcome.description, horizonHours: outcome.horizonMs / 3_600_000 }
        : null,
      pending: await pendingLabels(d.db, name, v),
      status: perfStatus,
      ...perf,
    };
    const result = {
      model: name,
      version: v,
      alias,
      reference: card.monitoring ? ('card' as const) : ('no reference' as const),
      /** The limits the statuses were judged by (the card's), so a chart can draw them. */
      thresholds: card.monitoring?.thresholds ?? null,
      window: {
        from: win.from,
        to: win.to,
        n: win.rows.length,
        scored: score.n,
        size: cfg.windowSize,
        minSamples: cfg.minSamples,
      },
      status: card.monitoring
        ? worst(
            [...feats.map((f) => f.status), ...sources.map((s) => s.status), score.status, perfStatus].filter(
              (s) => s !== 'no reference',
            ),
            'insufficient',
          )
        : ('no reference' as Status),
      features: feats,
      sources,
      score,
      performance: perfBlock,
      comparison: compared,
      alerts: [] as Awaited<ReturnType<typeof firingAlerts>>,
    };
    result.alerts = await firingAlerts(d.db, name, v);
    return result;
  }

  const webhooks = () => [...cfg.alerts.webhooks, ...cfg.retrain.webhooks];
  const sender: OutboxSender = startOutboxSender({
    db: d.db,
    logger: d.logger,
    webhooks,
    maxAttempts: cfg.alerts.maxAttempts,
    backoffMs: cfg.alerts.backoffMs,
    timeoutMs: cfg.alerts.timeoutMs,
    pollMs: Math.min(1000, cfg.evaluateIntervalMs),
  });

  let running: Promise<void> | undefined;
  async function evaluateOnce(now: Date) {
    const m = d.metrics;
    await labelDue(d.db, d.outcomes, features, now, cfg.outcomes.graceMs);
    const live = await aliases(d.db);
    const reports: MonitoringReport[] = [];
    for (const a of live) {
      try {
        reports.push(await report(a.name, a.version));
      } catch (err) {
        d.logger.warn(
          { model: a.name, version: a.version, err: (err as Error).message },
          'monitoring report failed',
        );
      }
    }
    m.modelFeaturePsi.reset();
    m.modelFeatureMissing.reset();
    m.modelPredictionPsi.reset();
    m.modelAuroc.reset();
    m.modelAlertsFiring.reset();
    for (const r of reports) {
      const l = { model: r.model, version: r.version };
      for (const f of r.features) {
        if (f.psi !== null) m.modelFeaturePsi.set({ ...l, feature: f.name }, f.psi);
        m.modelFeatureMissing.set({ ...l, feature: f.name }, f.missingRate);
      }
      if (r.score.psi !== null) m.modelPredictionPsi.set(l, r.score.psi);
      if (r.performance.auroc.value !== null) m.modelAuroc.set(l, r.performance.auroc.value);
    }
    // One process reconciles alerts at a time; the others skip this round.
    const fired: Array<{ model: string; version: string; evidence: unknown }> = [];
    await d.db.transaction(async (tx) => {
      const got = await tx.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1) as ok', [
        EVALUATE_LOCK,
      ]);
      if (!got.rows[0]?.ok) return;
      const ctx = {
        lineage: d.lineage,
        receivers: cfg.alerts.webhooks,
        externalUrl: d.externalUrl(),
        minIntervalMs: cfg.alerts.minIntervalMs,
        repeatIntervalMs: cfg.alerts.repeatIntervalMs,
        now,
      };
      for (const r of reports) {
        const res = await reconcile(tx, ctx, r.model, r.version, wantedAlerts(r));
        for (const w of res.fired) fired.push({ model: r.model, version: r.version, evidence: w.evidence });
      }
      // A version no alias points at any more is not watched: what it had firing resolves.
      const stale = await tx.query<{ model: string; version: string }>(
        `select distinct model, version from monitor_alert where status = 'firing'`,
      );
      for (const v of stale.rows.filter(
        (x) => !reports.some((r) => r.model === x.model && r.version === x.version),
      ))
        await reconcile(tx, ctx, v.model, v.version, []);
      await prune(
        tx,
        cfg.windowSize,
        cfg.performanceWindow,
        Math.max(0, ...d.outcomes.map((o) => o.horizonMs)),
        now,
      );
    });
    for (const r of reports)
      m.modelAlertsFiring.set(
        { model: r.model, version: r.version },
        (await firingAlerts(d.db, r.model, r.version)).length,
      );
    sender.wake();
    for (const f of fired) await d.onFired?.(f.model, f.version, f.evidence);
  }

  /** One evaluation (overlapping calls share the one running). */
  const evaluate = (now = new Date()) => {
    running ??= evaluateOnce(now).finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = cfg.enabled
    ? setInterval(
        () =>
          void evaluate().catch((err) =>
            d.logger.warn({ err: (err as Error).message }, 'monitoring evaluation failed'),
          ),
        cfg.evaluateIntervalMs,
      )
    : undefined;
  timer?.unref();

  const hook: FinishHook = monitoringHook(d.outcomes);
  return {
    hook,
    report,
    evaluate,
    outbox: sender,
    async close() {
      if (timer) clearInterval(timer);
      await running?.catch(() => {});
      await sender.close();
    },
  };
}

export type Monitoring = ReturnType<typeof createMonitoring>;
