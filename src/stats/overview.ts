import type { FastifyInstance } from 'fastify';
import type { Histogram } from 'prom-client';
import { z } from 'zod';
import type { Queryable } from '../db/database.js';
import { GatewayError } from '../errors/codes.js';
import { inboxNumbers } from '../inbox/store.js';
import type { Metrics } from '../observability/metrics.js';
import { outboxNumbers } from '../writeback/hl7/outbox-store.js';

export interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface OverviewDeps {
  db: Queryable;
  metrics: Metrics;
  backlog(): number;
  circuit(): string;
  /** Where results are written (the console links outputs there). */
  fhirBaseUrl(): string;
  now?: () => Date;
}

/** Buckets `le` -> cumulative count (Prometheus style) and the quantile q, interpolated in its bucket. */
export function bucketQuantile(
  buckets: ReadonlyArray<{ le: number; count: number }>,
  q: number,
): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      // The +Inf bucket has no upper bound: answer the highest finite bound.
      if (!Number.isFinite(b.le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket === 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** A histogram's percentiles per label set (labels other than `le` joined by `keyOf`). */
async function histogramPercentiles<L extends string>(
  h: Histogram<L>,
  keyOf: (labels: Record<string, string | number>) => string | undefined,
): Promise<Map<string, Percentiles & { sum: number }>> {
  const { values } = await h.get();
  // Label sets with the same key are added up (e.g. ACK latency over every code).
  const groups = new Map<string, { buckets: Map<number, number>; sum: number; count: number }>();
  for (const v of values) {
    const labels = v.labels as Record<string, string | number>;
    const key = keyOf(labels);
    if (key === undefined) continue;
    const g = groups.get(key) ?? { buckets: new Map<number, number>(), sum: 0, count: 0 };
    groups.set(key, g);
    const name = (v as { metricName?: string }).metricName ?? '';
    if (name.endsWith('_bucket')) {
      const le = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
      g.buckets.set(le, (g.buckets.get(le) ?? 0) + v.value);
    } else if (name.endsWith('_sum')) g.sum += v.value;
    else if (name.endsWith('_count')) g.count += v.value;
  }
  const out = new Map<string, Percentiles & { sum: number }>();
  for (const [k, g] of groups) {
    const b = [...g.buckets].map(([le, count]) => ({ le, count }));
    out.set(k, {
      count: g.count,
      sum: g.sum,
      p50: bucketQuantile(b, 0.5),
      p90: bucketQuantile(b, 0.9),
      p99: bucketQuantile(b, 0.99),
    });
  }
  return out;
}

const n = (v: unknown) => Number(v ?? 0);
const iso = (v: Date | string | null | undefined) => (v ? new Date(v).toISOString() : null);

/**
 * What the console's overview draws, from the database (every process's messages: per minute,
 * end-to-end latency, backlog, senders, dead letters, egress outbox) and this process's metrics
 * registry (ACK codes and latency, FHIR circuit, micro-batches).
 */
export async function overview(d: OverviewDeps, minutes: number) {
  const to = (d.now ?? (() => new Date()))();
  const from = new Date(Math.floor(to.getTime() / 60_000) * 60_000 - (minutes - 1) * 60_000);
  const since = from.toISOString();
  const [{ received, finished, e2e, statuses, senders, backlog }, dead, egress] = await Promise.all([
    inboxNumbers(d.db, since),
    d.db.query<{ n: number }>('select count(*)::int as n from dead_letter where resolved_at is null'),
    outboxNumbers(d.db),
  ]);

  const perMinute = new Map<
    number,
    { received: number; processed: number; ignored: number; failed: number }
  >();
  for (let t = from.getTime(); t <= to.getTime(); t += 60_000)
    perMinute.set(t, { received: 0, processed: 0, ignored: 0, failed: 0 });
  for (const r of received.rows) {
    const b = perMinute.get(new Date(r.m).getTime());
    if (b) b.received += n(r.n);
  }
  for (const r of finished.rows) {
    const b = perMinute.get(new Date(r.m).getTime());
    if (b && (r.status === 'processed' || r.status === 'ignored' || r.status === 'failed'))
      b[r.status] += n(r.n);
  }

  const bySender = new Map<
    string,
    { sender: string; lastReceivedAt: string | null } & Record<string, unknown>
  >();
  for (const r of senders.rows) {
    const s = bySender.get(r.sender) ?? {
      sender: r.sender,
      received: 0,
      processed: 0,
      ignored: 0,
      failed: 0,
      pending: 0,
      lastReceivedAt: null,
    };
    bySender.set(r.sender, s);
    s.received = n(s.received) + n(r.n);
    s[r.status === 'received' ? 'pending' : r.status] =
      n(s[r.status === 'received' ? 'pending' : r.status]) + n(r.n);
    const last = iso(r.last);
    if (last && (!s.lastReceivedAt || last > s.lastReceivedAt)) s.lastReceivedAt = last;
  }

  const acks = await d.metrics.acks.get();
  const ackCodes: Record<string, number> = {};
  for (const v of acks.values)
    ackCodes[String(v.labels.code)] = (ackCodes[String(v.labels.code)] ?? 0) + v.value;
  const ackLatency = await histogramPercentiles(d.metrics.ackSeconds, () => 'all');
  const transitions = await d.metrics.fhirCircuitTransitions.get();
  const batchSizes = await histogramPercentiles(d.metrics.modelBatchSize, (l) => `${l.model}@${l.version}`);
  const queueDelay = await histogramPercentiles(d.metrics.modelQueueDelay, (l) => `${l.model}@${l.version}`);
  const inferSeconds = await histogramPercentiles(d.metrics.stageSeconds, (l) =>
    l.stage === 'infer' ? 'infer' : undefined,
  );
  const q = e2e.rows[0]?.q;
  const b = backlog.rows[0];

  return {
    window: { from: since, to: to.toISOString(), minutes },
    perMinute: [...perMinute].map(([t, v]) => ({ minute: new Date(t).toISOString(), ...v })),
    statuses: Object.fromEntries(statuses.rows.map((r) => [r.status, n(r.n)])),
    acks: { codes: ackCodes, latencySeconds: strip(ackLatency.get('all')) },
    endToEndSeconds: {
      count: n(e2e.rows[0]?.n),
      p50: q?.[0] ?? null,
      p90: q?.[1] ?? null,
      p99: q?.[2] ?? null,
    },
    backlog: {
      queued: d.backlog(),
      unprocessed: n(b?.n),
      oldestReceivedAt: iso(b?.oldest),
      oldestAgeSeconds: b?.oldest ? (to.getTime() - new Date(b.oldest).getTime()) / 1000 : null,
    },
    senders: [...bySender.values()].sort((x, y) => n(y.received) - n(x.received)).slice(0, 50),
    deadLetters: n(dead.rows[0]?.n),
    fhirBaseUrl: d.fhirBaseUrl(),
    fhirCircuit: {
      state: d.circuit(),
      transitions: Object.fromEntries(transitions.values.map((v) => [String(v.labels.state), v.value])),
    },
    egress: egress.rows.map((r) => ({
      kind: r.kind,
      destination: r.destination,
      status: r.status,
      rows: n(r.n),
      oldestPendingAt: iso(r.oldest),
    })),
    models: [...batchSizes].map(([key, size]) => ({
      model: key.slice(0, key.lastIndexOf('@')),
      version: key.slice(key.lastIndexOf('@') + 1),
      batches: size.count,
      rows: size.sum,
      batchSize: strip(size),
      queueDelaySeconds: strip(queueDelay.get(key)),
    })),
    inferSeconds: strip(inferSeconds.get('infer')),
  };
}

function strip(p: (Percentiles & { sum: number }) | undefined): Percentiles {
  return p
    ? { count: p.count, p50: p.p50, p90: p.p90, p99: p.p99 }
    : { count: 0, p50: null, p90: null, p99: null };
}

const query = z.object({ minutes: z.coerce.number().int().min(5).max(1440).default(60) }).strict();

/** `GET /stats/overview?minutes=60` (scope read): the console's overview as JSON. */
export function registerStatsRoutes(app: FastifyInstance, d: OverviewDeps): void {
  app.get('/stats/overview', async (req) => {
    const r = query.safeParse(req.query ?? {});
    if (!r.success)
      throw new GatewayError(
        'GW_BAD_REQUEST',
        r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    return overview(d, r.data.minutes);
  });
}
