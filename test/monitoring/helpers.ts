// biome-ignore-all lint/suspicious/noExplicitAny: JSON bodies posted by the gateway under test
/** Lab messages drawn from the aki-risk training generator, and a real HTTP webhook receiver. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateAki } from '../../scripts/models/aki-data.js';
import { createRng } from '../../scripts/models/prng.js';

export interface Panel {
  creatinine: number;
  urea: number;
  potassium: number;
  sodium: number;
  age: number;
  label: number;
}

/** n patients as the training data was drawn (values at laboratory precision, age in years). */
export function trainingLike(seed: number, n: number): Panel[] {
  const d = generateAki(createRng(seed), n);
  return Array.from({ length: n }, (_, i) => {
    const r = Array.from(d.x.subarray(i * d.f, (i + 1) * d.f), (v) => Number(v.toPrecision(7)));
    return { creatinine: r[0]!, urea: r[1]!, potassium: r[2]!, sodium: r[3]!, age: r[4]!, label: d.y[i]! };
  });
}

const hl7Time = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);

/** A basic metabolic panel as ORU^R01; `omit` leaves features out, `creatinineUnit` changes OBX-6 only. */
export function akiOru(o: {
  controlId: string;
  mrn: string;
  panel: Panel;
  at: Date;
  sender?: string;
  facility?: string;
  omit?: readonly string[];
  creatinineUnit?: string;
  only?: 'creatinine';
}): string {
  const t = hl7Time(o.at);
  const birth = `${o.at.getUTCFullYear() - o.panel.age - 1}1231`;
  const p = o.panel;
  const obx = [
    ['creatinine', `2160-0^Creatinine^LN`, p.creatinine, o.creatinineUnit ?? 'mg/dL'],
    ['urea_nitrogen', '3094-0^Urea nitrogen^LN', p.urea, 'mg/dL'],
    ['potassium', '2823-3^Potassium^LN', p.potassium, 'mmol/L'],
    ['sodium', '2951-2^Sodium^LN', p.sodium, 'mmol/L'],
  ].filter(([name]) => !o.omit?.includes(name as string) && (!o.only || name === o.only));
  return [
    `MSH|^~\\&|${o.sender ?? 'LAB'}|${o.facility ?? 'HOSP'}|ML-GATEWAY|HOSP|${t}||ORU^R01^ORU_R01|${o.controlId}|P|2.5.1`,
    `PID|1||${o.mrn}^^^HOSP^MR||Testpatient^Alex||${birth}|F`,
    'PV1|1|I|5W^501^A',
    `OBR|1||ORD${o.controlId}|24323-8^Metabolic panel^LN|||${t}`,
    ...obx.map(([, code, value, unit], i) => `OBX|${i + 1}|NM|${code}||${value}|${unit}|||||F|||${t}`),
  ].join('\r');
}

export interface Receiver {
  url: string;
  received: Array<Record<string, any>>;
  /** Answer this status to the next n requests (a receiver that is down). */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

/** A real HTTP server that records every JSON body posted to it. */
export async function startReceiver(): Promise<Receiver> {
  const received: Array<Record<string, any>> = [];
  let failures = 0;
  let failStatus = 503;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failures > 0) {
        failures--;
        res.writeHead(failStatus).end();
        return;
      }
      received.push({ ...JSON.parse(Buffer.concat(chunks).toString('utf8')), _headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    received,
    failNext(n, status = 503) {
      failures = n;
      failStatus = status;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Waits until `check` holds (polling), or fails after timeoutMs. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition') {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * An aki-risk version that knows nothing: a logistic model with every weight zero, so every
 * patient gets the same probability (its AUROC on any labels is 0.5). Card and ONNX (base64),
 * golden cases scored by onnxruntime itself.
 */
export async function uninformativeAki(version: string): Promise<{ card: any; onnx: string }> {
  const { readFileSync } = await import('node:fs');
  const { createHash } = await import('node:crypto');
  const { parse } = await import('yaml');
  const ort = await import('onnxruntime-node');
  const { logisticToOnnx } = await import('../../scripts/models/onnx-writer.js');
  const names = ['creatinine', 'urea_nitrogen', 'potassium', 'sodium', 'age'];
  const onnx = logisticToOnnx(
    { mean: new Array(6).fill(0), std: new Array(6).fill(1), weights: new Array(6).fill(0), bias: -2 },
    { name: 'aki-risk', version, description: 'uninformative test model', featureNames: names },
    { column: 0, center: 0 },
  );
  const card = parse(readFileSync('models/aki-risk/card.yaml', 'utf8'));
  card.version = version;
  card.onnx = {
    ...card.onnx,
    sha256: createHash('sha256').update(onnx).digest('hex'),
    output: 'probability',
    outputIndex: 0,
  };
  const session = await ort.InferenceSession.create(onnx);
  const x = Float32Array.from(card.goldenCases.flatMap((c: any) => c.features));
  const out = await session.run({ features: new ort.Tensor('float32', x, [card.goldenCases.length, 5]) });
  const p = out.probability!.data as Float32Array;
  card.goldenCases = card.goldenCases.map((c: any, i: number) => ({ ...c, probability: p[i] }));
  await session.release();
  return { card, onnx: Buffer.from(onnx).toString('base64') };
}
