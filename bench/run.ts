import { benchIntake, type IntakeResult } from './mllp-intake.js';

/**
 * `npm run bench`: every speed target, measured side by side with its baseline in the same run.
 * Set DATABASE_URL to measure on real PostgreSQL as well as on embedded PGlite.
 */
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
  }
  if (!only || only === 'mllp') {
    const databases: Array<'pglite' | 'postgres'> = process.env.DATABASE_URL
      ? ['postgres', 'pglite']
      : ['pglite'];
    console.log('\n## Durable MLLP intake: 10,000 ORU^R01 over 10 connections, ACK after commit\n');
    console.log('| run | messages | ACKs/s | p50 ms | p99 ms | processed/s (parse→FHIR) |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const database of databases) {
      const grouped = await benchIntake({
        label: `${database}, group commit`,
        database,
        total: 10_000,
        connections: 10,
        process: database === databases[0],
      });
      console.log(intakeRow(grouped));
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
        `\n${database}: group commit ${f(grouped.perSecond / single.perSecond, 1)}x the one-commit-per-message baseline; p99 at 1,000 msg/s ${f(paced.p99ms, 2)} ms\n`,
      );
    }
  }
}

await main();
