import { createHash } from 'node:crypto';
import { MllpClient, type MllpClientTls } from '../../ingest/mllp/client.js';
import type { LineageStore } from '../../lineage/store.js';
import type { Logger } from '../../observability/logger.js';
import { errorInfo } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { ackCode, buildResultOru, type OruInput, type ResultToSend } from './message.js';

export interface OruDestination {
  name: string;
  host: string;
  port: number;
  receivingApplication: string;
  receivingFacility: string;
  timeoutMs: number;
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  tls?: MllpClientTls;
}

export interface OruEgressOptions {
  destinations: readonly OruDestination[];
  sendingApplication: string;
  sendingFacility: string;
  processingId: string;
  lineage: LineageStore;
  logger: Logger;
  metrics: Metrics;
  now?: () => Date;
}

/** The results of one triggering message for one patient. */
export interface OruJob {
  messageId: string;
  patient: { value: string; assigner?: string };
  sourceControlId: string;
  effectiveAt: string;
  results: readonly ResultToSend[];
}

type Attempt = { ok: true; code: string } | { ok: false; retry: boolean; reason: string; code?: string };

/**
 * Sends each job as an ORU^R01 to every destination over MLLP (TLS optional) and checks the ACK:
 * AA/CA is success; AE/CE and transport failures are retried with exponential back-off (jittered,
 * capped) up to maxAttempts; AR/CR is a refusal and not retried. Per destination, the results of one
 * patient go strictly in order (the next waits for the previous to succeed or be given up); other
 * patients are not held up. Every attempt is a lineage entry of the triggering message
 * (`oru-sent`, `oru-attempt-failed`, `oru-gave-up`). The MSH-10 of a result is derived from the
 * message and destination, so a retry after a lost ACK is recognisable as a duplicate.
 */
export function createOruEgress(o: OruEgressOptions) {
  const now = o.now ?? (() => new Date());
  const chains = new Map<string, Promise<void>>();
  const clients = new Map<string, Promise<MllpClient>>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  async function client(dest: OruDestination): Promise<MllpClient> {
    let c = clients.get(dest.name);
    if (!c) {
      c = MllpClient.connect({
        host: dest.host,
        port: dest.port,
        timeoutMs: dest.timeoutMs,
        ...(dest.tls ? { tls: dest.tls } : {}),
      });
      clients.set(dest.name, c);
      c.catch(() => clients.delete(dest.name));
    }
    return c;
  }

  async function attempt(dest: OruDestination, message: string): Promise<Attempt> {
    try {
      const c = await client(dest);
      const ack = await c.send(message);
      const code = ackCode(ack);
      if (code === 'AA' || code === 'CA') return { ok: true, code };
      if (code === 'AR' || code === 'CR')
        return { ok: false, retry: false, code, reason: `refused (${code})` };
      return {
        ok: false,
        retry: true,
        reason: code ? `error (${code})` : 'no MSA in the answer',
        ...(code ? { code } : {}),
      };
    } catch (err) {
      // The connection is suspect after any transport failure: open a new one next time.
      const c = clients.get(dest.name);
      clients.delete(dest.name);
      void c?.then((x) => x.close()).catch(() => {});
      return { ok: false, retry: true, reason: (err as Error).message };
    }
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  async function record(messageId: string, stage: string, detail: Record<string, unknown>) {
    try {
      await o.lineage.appendNow([{ messageId, stage, at: now().toISOString(), detail }]);
    } catch (err) {
      o.logger.error({ err: errorInfo(err), messageId, stage }, 'egress lineage append failed');
    }
  }

  async function deliver(dest: OruDestination, job: OruJob): Promise<void> {
    const controlId = createHash('sha256')
      .update(`${job.messageId}\u0000${dest.name}`)
      .digest('hex')
      .slice(0, 20);
    const input: OruInput = {
      ...job,
      sendingApplication: o.sendingApplication,
      sendingFacility: o.sendingFacility,
      receivingApplication: dest.receivingApplication,
      receivingFacility: dest.receivingFacility,
      processingId: o.processingId,
      controlId,
      now: now(),
    };
    const message = buildResultOru(input);
    for (let n = 1; n <= dest.maxAttempts && !closed; n++) {
      const r = await attempt(dest, message);
      const base = { destination: dest.name, controlId, attempt: n };
      o.metrics.egressAttempts.inc({
        destination: dest.name,
        outcome: r.ok ? 'sent' : r.retry ? 'retry' : 'refused',
      });
      if (r.ok) {
        await record(job.messageId, 'oru-sent', { ...base, ack: r.code });
        return;
      }
      await record(job.messageId, 'oru-attempt-failed', {
        ...base,
        reason: r.reason,
        ...(r.code ? { ack: r.code } : {}),
      });
      if (!r.retry) break;
      if (n < dest.maxAttempts) {
        const backoff = Math.min(dest.maxBackoffMs, dest.backoffMs * 2 ** (n - 1));
        await sleep(backoff * (0.5 + Math.random() / 2));
      }
    }
    o.logger.warn({ messageId: job.messageId, destination: dest.name }, 'oru result not delivered');
    await record(job.messageId, 'oru-gave-up', { destination: dest.name, controlId });
  }

  return {
    /** Queues the job for every destination; returns at once. */
    enqueue(job: OruJob): void {
      if (closed || job.results.length === 0) return;
      const patient = `${job.patient.assigner ?? ''}\u0000${job.patient.value}`;
      for (const dest of o.destinations) {
        const key = `${dest.name}\u0000${patient}`;
        const prev = chains.get(key) ?? Promise.resolve();
        const next = prev
          .then(() => deliver(dest, job))
          .catch((err) => {
            o.logger.error({ err: errorInfo(err), destination: dest.name }, 'oru egress failed');
          });
        chains.set(key, next);
        void next.then(() => {
          if (chains.get(key) === next) chains.delete(key);
        });
      }
    },
    /** Resolves when every queued job has been delivered or given up. */
    async idle(): Promise<void> {
      while (chains.size > 0) await Promise.all([...chains.values()]);
    },
    async close(): Promise<void> {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const c of clients.values()) await c.then((x) => x.close()).catch(() => {});
      clients.clear();
    },
  };
}

export type OruEgress = ReturnType<typeof createOruEgress>;
