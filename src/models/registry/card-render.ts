/**
 * A model card rendered for people (Markdown) and for the EHR (FHIR R4), in the manner of the HL7
 * AI Transparency on FHIR IG: a Device of type artificial intelligence for each model version and
 * a DocumentReference (type AIModelCard) carrying the Markdown card, whose subject is that Device.
 * Every Provenance the gateway writes names the card's DocumentReference (fhir/model-device.ts).
 */

import { buildModelDevice, modelCardDocumentId } from '../../fhir/model-device.js';
import { AI_INPUTS_CS, AI_MODEL_CARD_PROFILE, MODEL_CARD_DOCUMENT_PROFILE } from '../../fhir/profiles.js';
import type { Bundle, Resource } from '../../fhir/types.js';
import type { ModelCard } from './card.js';

/** The IG's codes for model cards (DocumentReference.type and .category). */
export const AI_MODEL_CARD_CS = AI_INPUTS_CS;

export interface CardVersion {
  name: string;
  version: string;
  sha256: string;
  card: ModelCard;
  status?: string;
  approvedBy?: string | null;
  approvedAt?: string | null;
  approvalReason?: string | null;
  mappingVersion?: string | null;
}

export { modelCardDocumentId };

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** `live`: Markdown lines of the version's live performance (src/monitoring/render.ts), appended. */
export function renderCardMarkdown(v: CardVersion, live: readonly string[] = []): string {
  const c = v.card;
  const lines: string[] = [
    `# Model card: ${c.name} ${c.version}`,
    '',
    `| | |`,
    `| --- | --- |`,
    `| status | ${v.status ?? c.status} |`,
    `| ONNX SHA-256 | \`${v.sha256}\` |`,
    `| input / output | \`${c.onnx.input}\` / \`${c.onnx.output}\` (column ${c.onnx.outputIndex}) |`,
    ...(v.mappingVersion ? [`| bound mapping version | \`${v.mappingVersion}\` |`] : []),
    ...(v.approvedBy
      ? [`| approved | by ${esc(v.approvedBy)} at ${v.approvedAt}: ${esc(v.approvalReason ?? '')} |`]
      : []),
    '',
    '## Description',
    '',
    c.description,
    '',
    '## Intended use',
    '',
    c.intendedUse,
    '',
  ];
  if (c.outOfScope.length) lines.push('## Out of scope', '', ...c.outOfScope.map((x) => `- ${x}`), '');
  if (c.limitations.length) lines.push('## Limitations', '', ...c.limitations.map((x) => `- ${x}`), '');
  const t = c.trainingData;
  lines.push(
    '## Training data',
    '',
    `${t.synthetic ? '**Synthetic.** ' : ''}${t.description}`,
    '',
    `Size ${t.size}${t.trainSize ? ` (training ${t.trainSize}, holdout ${t.holdoutSize ?? '-'})` : ''}, prevalence ${pct(t.prevalence)}.`,
    '',
    '## Features (in model order)',
    '',
    '| # | feature | unit | LOINC | description |',
    '| ---: | --- | --- | --- | --- |',
    ...c.features.map(
      (f, i) => `| ${i + 1} | ${f.name} | ${esc(f.unit)} | ${f.loinc.join(', ')} | ${esc(f.description)} |`,
    ),
    '',
    '## Performance',
    '',
    `On ${c.performance.dataset} (${c.performance.size} cases, ${c.performance.positives} positive): AUROC ${c.performance.auroc}, Brier ${c.performance.brier}.`,
    '',
  );
  if (c.performance.thresholds.length)
    lines.push(
      '| threshold | at least | sensitivity | specificity | PPV | NPV | flagged |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...c.performance.thresholds.map(
        (x) =>
          `| ${x.name} | ${x.atLeast} | ${pct(x.sensitivity)} | ${pct(x.specificity)} | ${pct(x.ppv)} | ${pct(x.npv)} | ${pct(x.flaggedFraction)} |`,
      ),
      '',
    );
  lines.push(
    '## Output',
    '',
    `\`${c.output.code.system}|${c.output.code.code}\` (${c.output.code.display}), unit \`${c.output.unit.code}\`.`,
    '',
  );
  if (c.thresholds.length)
    lines.push(
      '| band | from | interpretation |',
      '| --- | ---: | --- |',
      ...c.thresholds.map(
        (x) => `| ${x.name} | ${x.atLeast} | ${x.interpretation.code} (${x.interpretation.display}) |`,
      ),
      '',
    );
  lines.push(
    '## Golden cases',
    '',
    `Replayed at validation; each must agree within ${c.goldenTolerance}.`,
    '',
    '| case | features | expected |',
    '| --- | --- | ---: |',
    ...c.goldenCases.map((g) => `| ${esc(g.name)} | ${g.features.join(', ')} | ${g.probability} |`),
    '',
    ...live,
  );
  return lines.join('\n');
}

/** The AI Device of a version and the DocumentReference of its card (subject: the Device). */
export function buildCardResources(
  v: CardVersion,
  issuedAt: string | undefined,
): { device: Resource; document: Resource } {
  const device = buildModelDevice({ name: v.name, version: v.version, sha256: v.sha256, card: v.card });
  const markdown = renderCardMarkdown(v);
  const document: Resource = {
    resourceType: 'DocumentReference',
    id: modelCardDocumentId(v),
    meta: { profile: [MODEL_CARD_DOCUMENT_PROFILE, AI_MODEL_CARD_PROFILE] },
    identifier: [
      {
        system: 'http://clinical-ml-gateway.dev/fhir/model-card',
        value: `${v.name}|${v.version}|${v.sha256}`,
      },
    ],
    status: v.status === 'retired' ? 'superseded' : 'current',
    type: { coding: [{ system: AI_MODEL_CARD_CS, code: 'AIModelCard', display: 'AI Model-Card' }] },
    category: [
      {
        coding: [{ system: AI_MODEL_CARD_CS, code: 'AIModelCardMarkdownFormat', display: 'Markdown Format' }],
      },
    ],
    subject: { reference: `Device/${device.id}`, display: `${v.name} ${v.version}` },
    ...(issuedAt ? { date: issuedAt } : {}),
    description: `Model card of ${v.name} ${v.version}`,
    content: [
      {
        attachment: {
          contentType: 'text/markdown',
          data: Buffer.from(markdown, 'utf8').toString('base64'),
          title: `${v.name} ${v.version} model card`,
        },
      },
    ],
  };
  return { device, document };
}

/** A transaction that PUTs the Device and the card's DocumentReference (idempotent). */
export function buildCardBundle(v: CardVersion, issuedAt: string): Bundle {
  const { device, document } = buildCardResources(v, issuedAt);
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { resource: device, request: { method: 'PUT', url: `Device/${device.id}` } },
      { resource: document, request: { method: 'PUT', url: `DocumentReference/${document.id}` } },
    ],
  };
}
