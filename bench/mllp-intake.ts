import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { withBenchGateway } from './gateway.js';
import type { SenderJob, SenderResult } from './mllp-senders.js';

export interface IntakeResult {
  label: string;
  messages: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  /** End-to-end processing (parse, map, infer, write FHIR) of the stored messages, msg/s. */
  processedPerSecond?: number;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

/** Runs the senders in a worker thread and waits for their result. */
export function runSenders(job: SenderJob): Promise<SenderResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./mllp-senders-boot.mjs', import.meta.url), { workerData: job });
    w.once('message', (r: SenderResult) => {
      resolve(r);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

/**
 * Sends `total` distinct vitals ORUs over `connections` MLLP connections from a worker thread, each
 * connection keeping `window` messages in flight (1: waits for each ACK, as Mirth's TCP Sender does),
 * and times every ACK.
 */
export async function benchIntake(o: {
  label: string;
  database: 'pglite' | 'postgres';
  total: number;
  connections: number;
  /** Frames in flight per connection (default 1). */
  window?: number;
  inbox?: Record<string, unknown>;
  /** Messages per second across all connections; unset = as fast as ACKs come back. */
  rate?: number;
  process?: boolean;
}): Promise<IntakeResult> {
  return withBenchGateway(o.database, { inbox: o.inbox ?? {} }, async (gw) => {
    const port = gw.mllpPort;
    const perConn = Math.ceil(o.total / o.connections);
    const r = await runSenders({
      port,
      connections: o.connections,
      perConn,
      window: o.window ?? 1,
      rate: o.rate ?? 0,
      run: randomBytes(3).toString('hex'),
    });
    if (r.notAa > 0) throw new Error(`${r.notAa} messages were not answered AA`);
    const latencies = r.latencies.sort((a, b) => a - b);
    const n = perConn * o.connections;
    const result: IntakeResult = {
      label: o.label,
      messages: n,
      seconds: r.seconds,
      perSecond: n / r.seconds,
      p50ms: pct(latencies, 50),
      p99ms: pct(latencies, 99),
    };
    if (o.process) {
      const p0 = performance.now();
      gw.startWorkers();
      await gw.idle(600_000);
      result.processedPerSecond = n / ((performance.now() - p0) / 1000);
    }
    return result;
  });
}
