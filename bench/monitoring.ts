/**
 * Model monitoring's cost per prediction beside the pipeline's own cost per message, same run,
 * same database: aki-risk panels over MLLP processed end to end (parse -> FHIR write, monitoring
 * on), then what monitoring adds to each prediction: its INSERT inside the message's finishing
 * transaction (measured as transactions with and without it) and its share of one evaluation of
 * a full window (labelling, report, alerts), counted as if every window were evaluated once.
 */
import { MllpClient } from '../src/mllp/client.js';
import { monitoringHook } from '../src/monitoring/hook.js';
import { loadOutcomes } from '../src/monitoring/outcomes.js';
import type { MonitoredInput } from '../src/pipeline/monitored-input.js';
import { akiOru, trainingLike } from '../test/monitoring/helpers.js';
import { withBenchGateway } from './gateway.js';

export interface MonitoringBench {
  database: string;
  messages: number;
  pipelineMsPerMessage: number;
  pipelineCpuMsPerMessage: number;
  insertMsPerPrediction: number;
  evaluateMs: number;
  windowSize: number;
  monitoringMsPerPrediction: number;
  /** Node CPU of the same (the INSERT's JSON and round trip, the evaluation's statistics). */
  monitoringCpuMsPerPrediction: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchMonitoring(
  database: 'pglite' | 'postgres',
  messages = 2000,
): Promise<MonitoringBench> {
  return withBenchGateway(database, { monitoring: { evaluateIntervalMs: 3_600_000 } }, async (gw) => {
    const config = gw.config;
    const panels = trainingLike(77, messages);
    const start = Date.parse('2026-11-20T08:00:00Z');
    const clients = await Promise.all(
      Array.from({ length: 10 }, () => MllpClient.connect({ host: '127.0.0.1', port: gw.mllpPort })),
    );
    await Promise.all(
      panels.map((p, i) =>
        clients[i % 10]!.send(
          akiOru({ controlId: `B${i}`, mrn: `B${i}`, panel: p, at: new Date(start + i * 1000) }),
        ),
      ),
    );
    await Promise.all(clients.map((c) => c.close()));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    gw.startWorkers();
    await gw.idle(600_000);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);

    // The INSERT monitoring adds to a finishing transaction: K transactions with it against K without.
    const hook = monitoringHook(
      loadOutcomes('mappings/outcomes', () => ['creatinine', 'urea_nitrogen', 'potassium', 'sodium', 'age']),
    );
    const features = ['creatinine', 'urea_nitrogen', 'potassium', 'sodium', 'age'];
    const input = (i: number): MonitoredInput => {
      const p = panels[i % panels.length]!;
      const vector = [p.creatinine, p.urea, p.potassium, p.sodium, p.age];
      return {
        model: 'aki-risk',
        features,
        patientKey: `HOSP|X${i}`,
        source: 'LAB|HOSP',
        at: new Date(start + i * 1000).toISOString(),
        vector,
        missing: [],
        imputed: [],
        values: features.map((f, j) => ({
          feature: f,
          value: vector[j]!,
          unit: 'x',
          observedAt: new Date(start).toISOString(),
          sourceRef: String(j),
        })),
        rejected: [],
        scores: [{ version: '1.0.0', alias: 'production', score: 0.1 }],
        productionVersion: '1.0.0',
      };
    };
    const K = 500;
    // Both sides write (and so flush the WAL at commit) as the finishing transaction does anyway.
    await gw.db.query('create table if not exists bench_scratch (id bigserial primary key, v integer)');
    let cpuWith = 0;
    let cpuWithout = 0;
    const run = async (withHook: boolean, offset: number) => {
      const c0 = process.cpuUsage();
      const t = performance.now();
      // As the pipeline runs them: processing.concurrency transactions at once.
      let next = 0;
      const lane = async () => {
        for (let i = next++; i < K; i = next++)
          await gw.db.transaction(async (tx) => {
            await tx.query('insert into bench_scratch (v) values ($1)', [i]);
            if (withHook)
              await hook.write(tx, {
                messageId: `bench-${offset + i}`,
                status: 'processed',
                reason: null,
                stages: [],
                outputs: [],
                monitored: [input(i)],
              });
          });
      };
      await Promise.all(Array.from({ length: config.processing.concurrency }, lane));
      const c = process.cpuUsage(c0);
      if (withHook) cpuWith += (c.user + c.system) / 1000 / K;
      else cpuWithout += (c.user + c.system) / 1000 / K;
      return (performance.now() - t) / K;
    };
    const rounds: number[] = [];
    for (let r = 0; r < 5; r++) rounds.push((await run(true, r * K)) - (await run(false, 0)));
    const insertMs = Math.max(0, median(rounds));
    const insertCpuMs = Math.max(0, (cpuWith - cpuWithout) / 5);

    const evals: number[] = [];
    let evalCpu = 0;
    for (let i = 0; i < 5; i++) {
      const c0 = process.cpuUsage();
      const t = performance.now();
      await gw.monitoring.evaluate();
      evals.push(performance.now() - t);
      const c = process.cpuUsage(c0);
      evalCpu += (c.user + c.system) / 1000 / 5;
    }
    const evaluateMs = median(evals);
    const windowSize = config.monitoring.windowSize;
    return {
      database,
      messages,
      pipelineMsPerMessage: wall / messages,
      pipelineCpuMsPerMessage: (cpu.user + cpu.system) / 1000 / messages,
      insertMsPerPrediction: insertMs,
      evaluateMs,
      windowSize,
      monitoringMsPerPrediction: insertMs + evaluateMs / windowSize,
      monitoringCpuMsPerPrediction: insertCpuMs + evalCpu / windowSize,
    };
  });
}
