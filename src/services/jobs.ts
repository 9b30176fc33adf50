/** Services: the periodic sweep and retention prune, and the store gauges read at each scrape. */
import { claimRun, processHolder } from '../db/cluster-run.js';
import { oldestReceivedAgeSeconds } from '../inbox/processing.js';
import { openDeadLetterCount } from '../recovery/dead-letters.js';
import { startSweeper } from '../recovery/sweeper.js';
import { startPruner } from '../retention/prune.js';
import { BOTH, roleRuns, type Service } from './service.js';

export function jobs(): Service {
  let sweeper: ReturnType<typeof startSweeper> | undefined;
  let pruner: ReturnType<typeof startPruner> | undefined;
  return {
    name: 'jobs',
    roles: BOTH,
    async init(rt) {
      const { config, db, logger, metrics } = rt;
      const holder = processHolder();
      // An intake-role process leaves the sweep to the workers (without Redis it has no queue to feed).
      if (roleRuns(config.role).processing) {
        sweeper = startSweeper({
          db,
          queue: rt.queue,
          logger,
          intervalMs: config.processing.sweepIntervalMs,
        });
        rt.sweep = sweeper.sweep;
      } else rt.sweep = async () => {};
      pruner = startPruner({
        db,
        lineage: rt.lineage,
        logger,
        days: config.retention.rawMessageDays,
        intervalMs: config.retention.pruneIntervalMs,
        // One run per period for the whole cluster, whichever process claims it.
        claim: () => claimRun(db, 'retention', holder, config.retention.pruneIntervalMs),
        onRun: () => metrics.retentionRuns.inc(),
        onPruned: (n) => metrics.rawPruned.inc(n),
      });
    },
    async close() {
      await sweeper?.close();
      await pruner?.close();
    },
  };
}

export function gauges(): Service {
  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'gauges',
    roles: BOTH,
    async init(rt) {
      rt.metrics.watchStore({
        oldestAgeSeconds: () => oldestReceivedAgeSeconds(rt.db),
        deadLetters: () => openDeadLetterCount(rt.db),
      });
      timer = setInterval(() => rt.metrics.backlog.set(rt.queue.backlog()), 1000);
      timer.unref();
    },
    async close() {
      clearInterval(timer);
    },
  };
}
