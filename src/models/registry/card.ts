/**
 * The model card: the governed description of one model version (models/<name>/card.yaml).
 * Validated against a strict schema; an invalid card names the file and the key path.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import { GatewayError } from '../../errors/codes.js';
import { monitoringSchema } from './reference.js';

const coding = z.strictObject({
  system: z.string().min(1),
  code: z.string().min(1),
  display: z.string().min(1),
});

const probability = z.number().min(0).max(1);

const feature = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'feature names are snake_case'),
  /** UCUM unit the model expects the value in. */
  unit: z.string().min(1),
  description: z.string().min(1),
  loinc: z.array(z.string().regex(/^\d{1,7}-\d$/, 'not a LOINC code')).min(1),
});

const threshold = z.strictObject({
  name: z.string().min(1),
  /** The band applies from this probability (inclusive) up to the next band's atLeast. */
  atLeast: probability,
  interpretation: coding,
});

const thresholdMetrics = z.strictObject({
  name: z.string().min(1),
  atLeast: probability,
  sensitivity: probability,
  specificity: probability,
  ppv: probability,
  npv: probability,
  flaggedFraction: probability,
});

const goldenCase = z.strictObject({
  name: z.string().min(1),
  features: z.array(z.number()),
  probability,
});

export const modelCardSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'model names are kebab-case'),
    version: z.string().regex(/^\d+\.\d+\.\d+$/, 'version must be semantic (1.2.3)'),
    status: z.enum(['demo', 'candidate', 'active', 'retired']).default('active'),
    onnx: z.strictObject({
      file: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lower-case hex digits'),
      input: z.string().min(1),
      output: z.string().min(1),
      outputIndex: z.number().int().min(0).default(0),
    }),
    description: z.string().min(1),
    intendedUse: z.string().min(1),
    outOfScope: z.array(z.string().min(1)).default([]),
    limitations: z.array(z.string().min(1)).default([]),
    algorithm: z.record(z.string(), z.unknown()).optional(),
    trainingData: z.strictObject({
      synthetic: z.boolean(),
      generator: z.string().optional(),
      description: z.string().min(1),
      seed: z.number().int().optional(),
      size: z.number().int().positive(),
      trainSize: z.number().int().positive().optional(),
      holdoutSize: z.number().int().positive().optional(),
      prevalence: probability,
    }),
    features: z.array(feature).min(1),
    performance: z.strictObject({
      dataset: z.string().min(1),
      size: z.number().int().positive(),
      positives: z.number().int().min(0),
      prevalence: probability,
      auroc: probability,
      brier: probability,
      thresholds: z.array(thresholdMetrics).default([]),
    }),
    output: z.strictObject({
      code: coding,
      unit: z.strictObject({ code: z.string().min(1), display: z.string().min(1) }),
      /** Observation.category of the results; unset: observation-category `survey` (a risk assessment). */
      category: coding.optional(),
    }),
    thresholds: z.array(threshold).default([]),
    goldenCases: z.array(goldenCase).default([]),
    goldenTolerance: z.number().positive().default(1e-5),
    /** Training distribution and drift limits (issue 13); a card without one is monitored as "no reference". */
    monitoring: monitoringSchema.optional(),
  })
  .superRefine((card, ctx) => {
    const names = card.features.map((f) => f.name);
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i) {
        ctx.addIssue({
          code: 'custom',
          path: ['features', i, 'name'],
          message: `duplicate feature '${name}'`,
        });
      }
    });
    card.thresholds.forEach((t, i) => {
      const previous = card.thresholds[i - 1];
      if (previous && t.atLeast <= previous.atLeast) {
        ctx.addIssue({
          code: 'custom',
          path: ['thresholds', i, 'atLeast'],
          message: 'thresholds must be in increasing order of atLeast',
        });
      }
    });
    card.goldenCases.forEach((g, i) => {
      if (g.features.length !== names.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['goldenCases', i, 'features'],
          message: `has ${g.features.length} values, the card lists ${names.length} features`,
        });
      }
    });
  });

export type ModelCard = z.infer<typeof modelCardSchema>;
export type Coding = z.infer<typeof coding>;
export type ThresholdBand = z.infer<typeof threshold>;

export class ModelCardError extends GatewayError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super('MODEL_CARD_INVALID', file, message);
    this.name = 'ModelCardError';
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map(String).join('.');
}

/** Validates parsed YAML; throws ModelCardError naming the file and every bad key path. */
export function parseModelCard(value: unknown, file: string): ModelCard {
  const result = modelCardSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
    throw new ModelCardError(file, problems.join('; '));
  }
  return result.data;
}

export async function loadModelCard(file: string): Promise<ModelCard> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ModelCardError(file, `cannot be read (${(error as Error).message})`);
  }
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new ModelCardError(file, `is not valid YAML (${(error as Error).message})`);
  }
  return parseModelCard(value, file);
}

/** The threshold band that applies to a probability (the highest `atLeast` not above it), if any. */
export function interpret(card: ModelCard, probability: number): ThresholdBand | undefined {
  let band: ThresholdBand | undefined;
  for (const t of card.thresholds) {
    if (probability >= t.atLeast) band = t;
  }
  return band;
}
