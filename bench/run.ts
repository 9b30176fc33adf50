import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { benchIntake, type IntakeResult } from './mllp-intake.js';

/**
 * `npm run bench`: every speed target, measured side by side with its baseline in the same run.
 * Set DATABASE_URL to measure on real PostgreSQL as well as on embedded PGlite.
 */
/** The best published HL7 engine intake figure we know of (msg/s). */
const PUBLISHED_ENGINE = 1200;

const f = (n: number, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

function intakeRow(r: IntakeResult): string {
  return `| ${r.label} | ${f(r.messages)} | ${f(r.perSecond)} | ${f(r.p50ms, 2)} | ${f(r.p99ms, 2)} | ${
    r.processedPerSecond ? f(r.processedPerSecond) : '-'
  } |`;
}

async function main() {
  const only = process.argv[2];
  if (!only || only === 'hl7') {
    const { benchHl7Parsers } = await import('./hl7-parsers.js');
    const { rows } = await benchHl7Parsers();
    const ours = rows.find((r) => r.library.startsWith('gateway'))!;
    const ref = rows.find((r) => r.library.startsWith('node-hl7-client'))!;
    console.log('\n## HL7 v2 parse + extract 22 fields (1.2 KB ORU)\n');
    console.log('| library | correct | msg/s | vs node-hl7-client |');
    console.log('| --- | --- | ---: | ---: |');
    for (const r of rows) {
      console.log(
        `| ${r.library} | ${r.correct} | ${f(r.msgPerSec)} | ${f(r.msgPerSec / ref.msgPerSec, 2)}x |`,
      );
    }
    console.log(`\nratio gateway / node-hl7-client: ${f(ours.msgPerSec / ref.msgPerSec, 1)}x`);
    const { benchCorpus } = await import('./hl7-corpus.js');
    const c = benchCorpus();
    console.log(
      `\n## HL7 v2 parse + extraction over the fixture corpus (${c.messages} messages, ${f(c.bytes / 1024)} KB, ${c.obx} OBX)\n`,
    );
    console.log('| library | same values as ours | msg/s | vs node-hl7-client |');
    console.log('| --- | --- | ---: | ---: |');
    console.log(
      `| gateway (src/hl7/parser.ts) | - | ${f(c.oursPerSec)} | ${f(c.oursPerSec / c.theirsPerSec, 1)}x |`,
    );
    console.log(
      `| node-hl7-client 3.2.0 | ${c.matching}/${c.messages} messages | ${f(c.theirsPerSec)} | 1.00x |`,
    );
    for (const m of c.mismatches) console.log(`- ${m}`);
    console.log(`\nratio gateway / node-hl7-client on the corpus: ${f(c.oursPerSec / c.theirsPerSec, 1)}x`);
  }
  if (!only || only === 'mllp') {
    const databases: Array<'pglite' | 'postgres'> = process.env.DATABASE_URL
      ? ['postgres', 'pglite']
      : ['pglite'];
    console.log(
      '\n## Durable MLLP intake: ORU^R01 over 10 connections (senders in a worker thread), ACK after commit\n',
    );
    console.log('| run | messages | ACKs/s | p50 ms | p99 ms | processed/s (parse→FHIR) |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const database of databases) {
      const grouped = await benchIntake({
        label: `${database}, group commit, senders wait for each ACK`,
        database,
        total: 10_000,
        connections: 10,
        process: database === databases[0],
      });
      console.log(intakeRow(grouped));
      const pipelined = await benchIntake({
        label: `${database}, group commit, senders pipeline 8 frames`,
        database,
        total: 20_000,
        connections: 10,
        window: 8,
      });
      console.log(intakeRow(pipelined));
      const single = await benchIntake({
        label: `${database}, baseline: one commit per message`,
        database,
        total: database === 'postgres' ? 10_000 : 3_000,
        connections: 10,
        inbox: { maxBatch: 1 },
      });
      console.log(intakeRow(single));
      const paced = await benchIntake({
        label: `${database}, paced at 1,000 msg/s`,
        database,
        total: 5_000,
        connections: 10,
        rate: 1000,
      });
      console.log(intakeRow(paced));
      console.log(
        `\n${database}: waiting senders ${f(grouped.perSecond / PUBLISHED_ENGINE, 1)}x and pipelining senders ${f(
          pipelined.perSecond / PUBLISHED_ENGINE,
          1,
        )}x the best published engine figure (${f(PUBLISHED_ENGINE)} msg/s); group commit ${f(
          grouped.perSecond / single.perSecond,
          1,
        )}x the one-commit-per-message baseline; p99 at 1,000 msg/s ${f(paced.p99ms, 2)} ms\n`,
      );
    }
  }
  if (!only || only === 'fhir') {
    const { benchValidate } = await import('./fhir-validate.js');
    console.log('\n## FHIR validation of a prediction write, against its project profile\n');
    console.log(
      '| resource | gateway validateFhir ms | baseline: @medplum/core validateResource(r, { profile }) ms | speed-up |',
    );
    console.log('| --- | ---: | ---: | ---: |');
    for (const r of benchValidate())
      console.log(
        `| ${r.resourceType} | ${f(r.oursMs, 3)} | ${f(r.medplumMs, 3)} | ${f(r.medplumMs / r.oursMs, 1)}x |`,
      );
    console.log(
      '\nvalidateFhir also checks the required codes @medplum/core leaves unchecked; the baseline parses the profile on every call.',
    );
  }
  if (!only || only === 'console') {
    const { benchConsole } = await import('./console.js');
    const database = process.env.DATABASE_URL ? 'postgres' : 'pglite';
    const r = await benchConsole(database);
    if (!r) console.log('\n(console: /usr/bin/chromium is not installed; skipped)');
    else {
      console.log(
        `\n## Console first paint (Debian chromium, headless, fresh context, median of 5) and its data calls (median of 20), ${database}\n`,
      );
      console.log(
        '| messages stored | first contentful paint ms | overview figures ms | overview charts ms | messages page ms | GET /messages newest 50 / by patient / by status / 100th page ms | GET /stats/overview ms |',
      );
      console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      for (const p of [r.empty, r.full])
        console.log(
          `| ${f(p.messages)} | ${f(p.fcpMs)} | ${f(p.overviewMs)} | ${f(p.chartsMs)} | ${f(p.messagesMs)} | ${f(p.searchMs.newest, 1)} / ${f(p.searchMs.patient, 1)} / ${f(p.searchMs.status, 1)} / ${f(p.searchMs.deepPage, 1)} | ${f(p.statsMs, 1)} |`,
        );
      console.log(
        `\nwith ${f(r.full.messages)} messages: overview figures ${f(r.full.overviewMs / r.empty.overviewMs, 2)}x the empty gateway, messages page ${f(r.full.messagesMs / r.empty.messagesMs, 2)}x (target: first paint under 1,000 ms)`,
      );
    }
  }
  if (!only || only === 'lineage') {
    const { benchLineage } = await import('./lineage.js');
    const rows = await benchLineage();
    if (!rows) console.log('\n(lineage: DATABASE_URL is not set; skipped)');
    else {
      const at = (layout: string, writers: number) =>
        rows.find((r) => r.layout === layout && r.writers === writers)!.entriesPerSecond;
      console.log(
        '\n## Lineage appends on PostgreSQL: the single chain against shards (lineage.shards = 16), best of 3\n',
      );
      console.log('| layout | writers | entries/s | transactions/s (6 entries each) |');
      console.log('| --- | ---: | ---: | ---: |');
      for (const r of rows)
        console.log(
          `| ${r.layout} | ${r.writers} | ${f(r.entriesPerSecond)} | ${f(r.transactionsPerSecond)} |`,
        );
      console.log(
        `\n8 writers / 1: single chain ${f(at('single chain', 8) / at('single chain', 1), 2)}x, sharded ${f(at('sharded', 8) / at('sharded', 1), 2)}x; sharded / single chain at 8 writers ${f(at('sharded', 8) / at('single chain', 8), 2)}x, at 1 writer ${f(at('sharded', 1) / at('single chain', 1), 2)}x (${cores()} cores, load average ${loadavg()[0]!.toFixed(1)})`,
      );
    }
  }
  if (!only || only === 'monitoring') {
    const { benchMonitoring } = await import('./monitoring.js');
    console.log(
      "\n## Model monitoring: cost per prediction beside the pipeline's cost per message (aki-risk panels over MLLP)\n",
    );
    console.log(
      '| database | messages | pipeline ms/message (wall) | monitoring INSERT ms | evaluation of a window ms (size) | monitoring ms/prediction | ratio (goal < 5 %) | pipeline CPU ms/message | monitoring CPU ms/prediction | CPU ratio |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const database of process.env.DATABASE_URL
      ? (['postgres', 'pglite'] as const)
      : (['pglite'] as const)) {
      const r = await benchMonitoring(database);
      console.log(
        `| ${r.database} | ${f(r.messages)} | ${f(r.pipelineMsPerMessage, 2)} | ${f(r.insertMsPerPrediction, 3)} | ${f(r.evaluateMs, 1)} (${f(r.windowSize)}) | ${f(r.monitoringMsPerPrediction, 3)} | ${f((100 * r.monitoringMsPerPrediction) / r.pipelineMsPerMessage, 1)} % | ${f(r.pipelineCpuMsPerMessage, 2)} | ${f(r.monitoringCpuMsPerPrediction, 3)} | ${f((100 * r.monitoringCpuMsPerPrediction) / r.pipelineCpuMsPerMessage, 1)} % |`,
      );
    }
    console.log(
      '\nmonitoring ms/prediction = its INSERT in the finishing transaction (transactions with it minus without, processing.concurrency at once as the pipeline runs them, median of 5 x 500) + one evaluation of a full window / window size (every prediction is evaluated in one window).',
    );
  }
  if (!only || only === 'models') {
    // After the intake runs PostgreSQL still has work of its own (autovacuum, a checkpoint); the
    // inference figures need both cores.
    const quiet = await waitForQuiet();
    if (quiet)
      console.log(
        `\n(waited ${f(quiet.waitedMs)} ms for the machine to be idle: ${f(quiet.idle * 100)} % idle)`,
      );
    const { benchLatency, benchProcesses, benchThroughput } = await import('./models.js');
    const { SESSION } = await import('./models.js');
    console.log('\n## Inference engine: micro-batched throughput vs a raw onnxruntime-node loop\n');
    console.log(
      `Single-row requests (2 x batch in flight) through the gateway's batcher and inference thread, against session.run in a loop on batches of the same size, both with the gateway's session options (${JSON.stringify(SESSION)}); last column: the raw loop with onnxruntime's defaults (intra-op threads: one per core).\n`,
    );
    console.log(
      '| model | batch | raw loop rows/s | gateway rows/s | ratio | mean batch | µs a row: raw / gateway / batcher alone | raw loop, onnxruntime defaults: rows/s (ratio) |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const [model, batch] of [
      ['aki-risk', 64],
      ['aki-risk', 32],
      ['vitals-deterioration', 64],
    ] as const) {
      const r = await benchThroughput(model, batch);
      console.log(
        `| ${r.model} | ${r.batch} | ${f(r.rawRowsPerSec)} | ${f(r.gatewayRowsPerSec)} | ${f(r.gatewayRowsPerSec / r.rawRowsPerSec, 2)}x | ${f(r.meanBatch, 1)} | ${us(r.rawRowsPerSec)} / ${us(r.gatewayRowsPerSec)} / ${us(r.batcherOnlyRowsPerSec)} | ${f(r.rawDefaultRowsPerSec)} (${f(r.gatewayRowsPerSec / r.rawDefaultRowsPerSec, 2)}x) |`,
      );
    }
    console.log('\n## Stream mode at 1,000 requests/s: latency of one row\n');
    console.log('| model | raw session.run p50 / p99 ms | gateway p50 / p99 ms | added p99 ms |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const model of ['vitals-deterioration', 'aki-risk']) {
      const r = await benchLatency(model);
      console.log(
        `| ${r.model} | ${f(r.rawP50, 3)} / ${f(r.rawP99, 3)} | ${f(r.gwP50, 3)} / ${f(r.gwP99, 3)} | ${f(r.gwP99 - r.rawP99, 3)} |`,
      );
    }
    if (process.env.REDIS_URL) {
      // Jobs of the size the gateway's re-scoring queues (models.rescore.groupSize, its default).
      const { configSchema } = await import('../src/config/schema.js');
      const rowsPerJob = configSchema.parse({}).models.rescore.groupSize;
      const r = await benchProcesses(process.env.REDIS_URL, rowsPerJob, 2000);
      console.log(
        `\n## BullMQ mini-batch jobs (${f(r.rowsPerJob)} rows each = models.rescore.groupSize, aki-risk, one onnxruntime thread a process), worker processes on one Redis, best of 5\n`,
      );
      console.log('| processes | jobs/s on Redis | rows/s | control: same scoring, no queue, jobs/s |');
      console.log('| ---: | ---: | ---: | ---: |');
      console.log(`| 1 | ${f(r.one)} | ${f(r.one * r.rowsPerJob)} | ${f(r.localOne)} |`);
      console.log(`| 2 | ${f(r.two)} | ${f(r.two * r.rowsPerJob)} | ${f(r.localTwo)} |`);
      console.log(
        `\nratio two processes / one: ${f(r.two / r.one, 2)}x on Redis; ${f(r.localTwo / r.localOne, 2)}x without a queue, what the machine gave two processes (${cores()} cores, load average ${loadavg()[0]!.toFixed(1)} at the end)`,
      );
      console.log(
        `each round, one and two processes back to back: ${r.roundRatios.map((x) => `${f(x, 2)}x`).join(', ')}`,
      );
    }
  }
}

/** CPU time of the whole machine (Linux /proc/stat): idle and total ticks. */
function cpuTicks(): { idle: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return { idle: fields[3]! + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}

/** Waits (up to 30 s) until the machine is at least 90 % idle over half a second; undefined where that cannot be read. */
async function waitForQuiet(): Promise<{ waitedMs: number; idle: number } | undefined> {
  const t0 = performance.now();
  for (;;) {
    const a = cpuTicks();
    await new Promise((r) => setTimeout(r, 500));
    const b = cpuTicks();
    if (!a || !b || b.total === a.total) return undefined;
    const idle = (b.idle - a.idle) / (b.total - a.total);
    if (idle >= 0.9 || performance.now() - t0 > 30_000) return { waitedMs: performance.now() - t0, idle };
  }
}

const cores = () => availableParallelism();
const us = (perSec: number) => f(1e6 / perSec, 2);

await main();
