import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tracingRequested } from '../../src/observability/otel-start.js';
import { removeSharedState } from '../helpers/cluster.js';
import { type FakeMirth, startFakeMirth } from '../helpers/fake-mirth.js';
import { sendMllp } from '../helpers/gateway.js';
import { msaCode, vitalsOru } from '../helpers/messages.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../helpers/otlp-receiver.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
/** A Redis database of its own (the cluster test uses 11), flushed after. */
const REDIS_DB = 13;

describe('tracing is off unless the OTEL_* variables ask for it', () => {
  it('decides from the standard variables without loading the SDK', () => {
    assert.equal(tracingRequested({}), false);
    assert.equal(tracingRequested({ OTEL_SERVICE_NAME: 'x' }), false);
    assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp' }), true);
    assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: 'none' }), false);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
    assert.equal(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }), false);
  });
});

interface Child {
  child: ChildProcess;
  mllp: number;
  http: string;
  out: () => string;
}

/**
 * Two gateway processes (one PostgreSQL schema, one Redis), each exporting to a real OTLP/HTTP
 * receiver, one over http/protobuf and one over http/json. Messages are sent to the first; whichever
 * process scores a message, its spans (MLLP frame, intake, commit, processing, parse, map, infer,
 * validate, FHIR write, lineage, ORU egress, and the pg/HTTP spans of the instrumentations) make one
 * trace, and no attribute holds the patient's identifier, name or any of the message's text.
 */
describe('one trace per message, across processes', { skip: !DATABASE_URL || !REDIS_URL }, () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const redisUrl = `${REDIS_URL!.replace(/\/\d*$/, '')}/${REDIS_DB}`;
  const token = randomBytes(24).toString('hex');
  const children: ChildProcess[] = [];
  let receiver: OtlpReceiver;
  let mirth: FakeMirth;
  let a: Child;
  let b: Child;

  const start = (name: string, protocol: string, config: string) =>
    new Promise<Child>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'main.ts')], {
        cwd: ROOT,
        env: {
          ...process.env,
          DATA_DIR: mkdtempSync(join(tmpdir(), `gw-trace-${name}-`)),
          MLLP_PORT: '0',
          HTTP_PORT: '0',
          LOG_LEVEL: 'info',
          DATABASE_URL: DATABASE_URL!,
          DATABASE_SCHEMA: schema,
          REDIS_URL: redisUrl,
          GATEWAY_ADMIN_TOKEN: token,
          GATEWAY_CONFIG: config,
          OTEL_TRACES_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_SERVICE_NAME: 'gateway-under-test',
          OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${name},deployment.environment.name=test`,
          OTEL_TRACES_SAMPLER: 'parentbased_always_on',
          OTEL_BSP_SCHEDULE_DELAY: '100',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d;
        const m = /"mllp":"[^"]*:(\d+)","http":"([^"]+)"/.exec(out);
        if (m) resolve({ child, mllp: Number(m[1]), http: m[2]!, out: () => out });
      });
      child.stderr!.on('data', (d: Buffer) => {
        out += d;
      });
      child.on('exit', (code) => reject(new Error(`${name} exited ${code}: ${out.slice(-800)}`)));
    });

  before(async () => {
    receiver = await startOtlpReceiver();
    mirth = await startFakeMirth(() => 'AA');
    const config = join(mkdtempSync(join(tmpdir(), 'gw-trace-')), 'gateway.yaml');
    writeFileSync(
      config,
      [
        'processing:',
        '  concurrency: 4',
        'egress:',
        '  oru:',
        '    destinations:',
        `      - { name: mirth, host: 127.0.0.1, port: ${mirth.port} }`,
        '',
      ].join('\n'),
    );
    // The first creates the schema; then the second joins it.
    a = await start('a', 'http/protobuf', config);
    b = await start('b', 'http/json', config);
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await receiver?.close();
    await mirth?.close();
    await removeSharedState(DATABASE_URL!, redisUrl, schema);
  });

  const inTrace = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
  const intakeOf = (controlId: string) =>
    receiver.spans.find((s) => s.name === 'gateway.intake' && s.attributes['hl7.control_id'] === controlId);
  const complete = (spans: ReceivedSpan[]) =>
    spans.some((s) => s.name === 'gateway.egress.send') && spans.some((s) => s.name === 'gateway.lineage');

  async function until<T>(what: string, fn: () => T | undefined, ms = 20_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = fn();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('follows a message sent to one process and scored by either, with no PHI in any span', async () => {
    const run = randomBytes(3).toString('hex');
    const mrn = `MRN${run}77`;
    const sent: string[] = [];
    let crossed: ReceivedSpan[] | undefined;
    // Messages go to process a; BullMQ hands each to whichever worker takes it first. Rounds until
    // one was scored by b (each message is its own patient: no ordering between them).
    for (let round = 0; round < 6 && !crossed; round++) {
      const ids = Array.from({ length: 4 }, (_, i) => `TR${run}${round}${i}`);
      for (const id of ids) {
        const msg = vitalsOru({ controlId: id, mrn: `${mrn}${id}` }).replace(
          'Testpatient^Alex',
          'Zyxwarden^Quill',
        );
        assert.equal(msaCode(await sendMllp(a.mllp, msg)), 'AA');
        sent.push(id);
      }
      const traces = await until('complete traces', () => {
        const t = ids.map((id) => intakeOf(id)).map((s) => (s ? inTrace(s.traceId) : []));
        return t.every(complete) ? t : undefined;
      });
      crossed = traces.find((spans) =>
        spans.some((s) => s.name === 'gateway.process' && s.resource['service.instance.id'] === 'b'),
      );
    }
    assert.ok(crossed, 'a message received by process a was scored by process b');
    const names = new Set(crossed.map((s) => s.name));
    for (const n of [
      'gateway.mllp.frame',
      'gateway.intake',
      'gateway.intake.commit',
      'gateway.process',
      'gateway.parse',
      'gateway.map',
      'gateway.infer',
      'gateway.validate',
      'gateway.fhir.write',
      'gateway.lineage',
      'gateway.egress.send',
      'request', // @fastify/otel: the embedded FHIR store receiving the write, in the same trace
    ])
      assert.ok(names.has(n), `span ${n} in the trace (has ${[...names].join(', ')})`);
    assert.ok(
      crossed.some((s) => s.name.startsWith('pg.query')),
      'PostgreSQL spans from @opentelemetry/instrumentation-pg',
    );
    const frame = crossed.find((s) => s.name === 'gateway.mllp.frame')!;
    assert.equal(frame.parentSpanId, '', 'the MLLP frame is the root');
    assert.equal(frame.resource['service.instance.id'], 'a');
    assert.equal(frame.resource['service.name'], 'gateway-under-test');
    assert.equal(frame.resource['deployment.environment.name'], 'test');
    const intake = crossed.find((s) => s.name === 'gateway.intake')!;
    const proc = crossed.find((s) => s.name === 'gateway.process')!;
    assert.equal(
      proc.parentSpanId,
      intake.spanId,
      'processing continues the intake span, in the other process',
    );
    const infer = crossed.find((s) => s.name === 'gateway.infer')!;
    assert.equal(typeof infer.attributes['gateway.model'], 'string');
    assert.equal(typeof infer.attributes['gateway.model.version'], 'string');
    assert.equal(infer.attributes['gateway.model.batch_size'], 1);
    assert.equal(proc.attributes['gateway.outcome'], 'processed');

    // The group commit is a trace of its own, linked to each message's intake; its Redis (BullMQ
    // enqueue) and database spans are its children.
    const commit = receiver.spans.find(
      (s) => s.name === 'gateway.inbox.commit' && s.links.some((l) => l.spanId === intake.spanId),
    );
    assert.ok(commit, 'a group commit span links to the message');
    const commitSpans = inTrace(commit.traceId);
    assert.ok(
      commitSpans.some(
        (s) => s.attributes['db.system'] === 'redis' || s.attributes['db.system.name'] === 'redis',
      ),
    );
    assert.ok(commitSpans.some((s) => s.name.startsWith('pg.query')));

    // Both exporters were used: http/protobuf (a) and http/json (b).
    assert.ok(receiver.contentTypes.has('application/x-protobuf'));
    assert.ok(receiver.contentTypes.has('application/json'));

    // No span anywhere holds the identifier, the name, or a line of the messages.
    const phi = [mrn, 'Zyxwarden', 'Quill', 'PID|', 'OBX|'];
    for (const s of receiver.spans)
      for (const v of s.strings)
        for (const p of phi) assert.ok(!v.includes(p), `span ${s.name} holds "${p}": ${v.slice(0, 200)}`);
    assert.ok(sent.length >= 4);
  });

  it('starts the trace of a message posted to /hl7 at the HTTP request (@fastify/otel)', async () => {
    const id = `TH${randomBytes(3).toString('hex')}`;
    const res = await fetch(`${b.http}/hl7`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/hl7-v2' },
      body: vitalsOru({ controlId: id, mrn: `MRN${id}` }),
    });
    assert.equal(msaCode(await res.text()), 'AA');
    const spans = await until('the /hl7 trace', () => {
      const intake = intakeOf(id);
      const t = intake ? inTrace(intake.traceId) : [];
      return complete(t) ? t : undefined;
    });
    const root = spans.find((s) => s.parentSpanId === '')!;
    assert.equal(root.name, 'request');
    assert.equal(root.attributes['http.route'], '/hl7');
    const intake = spans.find((s) => s.name === 'gateway.intake')!;
    assert.equal(intake.parentSpanId, root.spanId);
    assert.ok(spans.some((s) => s.name === 'gateway.process'));
  });

  it('writes the trace id in the log lines of a span', async () => {
    // No MSH-10: refused (AR) inside the intake span, which logs why.
    const bad =
      'MSH|^~\\&|VITALS|WARD5|ML-GATEWAY|HOSP|20240301101500||ORU^R01^ORU_R01||P|2.5.1\rPID|1||X^^^HOSP^MR\r';
    assert.equal(msaCode(await sendMllp(a.mllp, bad)), 'AR');
    const span = await until('the AR intake span', () =>
      receiver.spans.find((s) => s.name === 'gateway.intake' && s.attributes['hl7.ack_code'] === 'AR'),
    );
    const line = await until('the log line', () =>
      a
        .out()
        .split('\n')
        .find((l) => l.includes('"message not accepted"') && l.includes(span.traceId)),
    );
    const log = JSON.parse(line) as { trace_id: string; span_id: string };
    assert.equal(log.trace_id, span.traceId);
    assert.equal(log.span_id, span.spanId);
  });
});
