import { hl7Timestamp } from '../../../hl7/ack.js';
import { STANDARD_DELIMITERS } from '../../../hl7/delimiters.js';
import { encodeHl7Text } from '../../../hl7/escape.js';

/** One model output to report, as the pipeline recorded it. */
export interface ResultToSend {
  model: string;
  modelVersion: string;
  modelSha256: string;
  score: number;
  /** Interpretation code (HL7 table 0078 style, e.g. H, L, N) and band name, when the card has thresholds. */
  interpretation?: string;
  /** Output code and unit from the model card. */
  code: { system: string; code: string; display: string };
  unit: { code: string; display: string };
  /** The FHIR Observation written (`Observation/id`), when there is one. */
  resource?: string;
}

export interface OruInput {
  /** The gateway's message id of the triggering message; with the model it makes MSH-10 unique. */
  messageId: string;
  patient: { value: string; assigner?: string };
  /** MSH-10 of the triggering message, echoed in OBR-2 (placer order number) for the receiver. */
  sourceControlId: string;
  effectiveAt: string;
  results: readonly ResultToSend[];
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  processingId: string;
  controlId: string;
  now: Date;
}

const d = STANDARD_DELIMITERS;
const esc = (v: string) => encodeHl7Text(v, d);

/** ISO 8601 -> HL7 DTM (UTC, seconds precision). */
function dtm(iso: string): string {
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? '' : hl7Timestamp(t).replace(/\.\d{3}/, '');
}

/**
 * An ORU^R01 (v2.5.1) with the model results of one triggering message: PID with the patient
 * identifier, one OBR per model, one OBX (NM) with the score, its unit, the interpretation in OBX-8,
 * the model and version in OBX-17 (observation method), and an NTE with the model's SHA-256 and the
 * FHIR Observation written. No names, birth dates or other demographics are sent.
 */
export function buildResultOru(o: OruInput): string {
  const segs: string[] = [];
  segs.push(
    [
      'MSH',
      '^~\\&',
      esc(o.sendingApplication),
      esc(o.sendingFacility),
      esc(o.receivingApplication),
      esc(o.receivingFacility),
      hl7Timestamp(o.now),
      '',
      'ORU^R01^ORU_R01',
      esc(o.controlId),
      esc(o.processingId),
      '2.5.1',
      '',
      '',
      '',
      '',
      '',
      'UNICODE UTF-8',
    ].join('|'),
  );
  segs.push(`PID|1||${esc(o.patient.value)}^^^${esc(o.patient.assigner ?? '')}^MR`);
  const when = dtm(o.effectiveAt);
  o.results.forEach((r, i) => {
    const n = i + 1;
    const codeCwe = `${esc(r.code.code)}^${esc(r.code.display)}^${esc(r.code.system)}`;
    segs.push(
      [
        'OBR',
        String(n),
        esc(o.sourceControlId),
        esc(`${o.messageId}.${r.model}`),
        codeCwe,
        '',
        '',
        when,
        ...Array(14).fill(''),
        hl7Timestamp(o.now).replace(/\.\d{3}/, ''),
        '',
        '',
        'F',
      ].join('|'),
    );
    segs.push(
      [
        'OBX',
        '1',
        'NM',
        codeCwe,
        '',
        String(Number(r.score.toPrecision(6))),
        `${esc(r.unit.code)}^${esc(r.unit.display)}^UCUM`,
        '',
        esc(r.interpretation ?? ''),
        '',
        '',
        'F',
        '',
        '',
        when,
        '',
        '',
        `${esc(r.model)}^${esc(`${r.model} ${r.modelVersion}`)}^L`,
        '',
        '',
        '',
        esc(r.resource ?? ''),
      ].join('|'),
    );
    const note = `model ${r.model} ${r.modelVersion} sha256 ${r.modelSha256}${r.resource ? `; FHIR ${r.resource}` : ''}`;
    segs.push(`NTE|1|L|${esc(note)}`);
  });
  return `${segs.join('\r')}\r`;
}

/** The ACK code in MSA-1 of an answer; undefined when there is none. */
export function ackCode(ack: string): string | undefined {
  for (const line of ack.split(/\r\n|\r|\n/)) {
    if (line.startsWith('MSA')) return line.split(line[3] ?? '|')[1];
  }
  return undefined;
}
