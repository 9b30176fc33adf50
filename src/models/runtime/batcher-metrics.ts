/**
 * The micro-batchers' Prometheus metrics (src/observability/metrics.ts), per model and version:
 * batch sizes, the queue delay of each batch, the requests waiting and whether the version's
 * inference thread is up (both read at each scrape), and the requests refused (queue full) or
 * expired (deadline passed). Every call is per batch or per refusal, never per request.
 */
import type { Metrics } from '../../observability/metrics.js';
import type { Batcher, BatcherObserver } from './batcher.js';

export type BatcherMetrics = Pick<
  Metrics,
  | 'modelBatchSize'
  | 'modelQueueDelay'
  | 'modelRefused'
  | 'modelExpired'
  | 'watchModelQueue'
  | 'watchModelThread'
>;

export function batcherObserver(m: BatcherMetrics, model: string, version: string): BatcherObserver {
  const labels = { model, version };
  let unwatch: (() => void) | undefined;
  let unwatchThread: (() => void) | undefined;
  return {
    opened(batcher: Batcher) {
      unwatch = m.watchModelQueue(model, version, () => batcher.queued);
    },
    thread(up) {
      unwatchThread = m.watchModelThread(model, version, up);
    },
    batch(rows, queueDelayMs) {
      m.modelBatchSize.observe(labels, rows);
      m.modelQueueDelay.observe(labels, queueDelayMs / 1000);
    },
    refused() {
      m.modelRefused.inc(labels);
    },
    expired(n) {
      m.modelExpired.inc(labels, n);
    },
    closed() {
      unwatch?.();
      unwatchThread?.();
    },
  };
}
