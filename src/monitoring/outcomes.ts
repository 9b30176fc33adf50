/**
 * Outcome definitions (mappings/outcomes/*.yaml): what later messages of the same patient make a
 * prediction come true, e.g. the KDIGO creatinine rule for aki-risk, an ICU transfer or a
 * rapid-response call for vitals-deterioration. Pure: schema, loading, the events a message
 * carries, and the label of a prediction from the events that followed it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { GatewayError } from '../errors/codes.js';
import { parseDuration } from '../features/mapping-schema.js';
import type { ClinicalEvent } from '../normalize/event.js';
import type { MonitoredInput } from '../pipeline/monitored-input.js';

const duration = z.string().transform((s, ctx) => {
  const ms = parseDuration(s);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `'${s}' is not a duration (e.g. 24h, 48h, 7d)` });
    return z.NEVER;
  }
  return ms;
});

const rule = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 of A-Z a-z 0-9 . _ -'),
    within: duration,
    lab: z.string().min(1).optional(),
    riseBy: z.number().positive().optional(),
    riseTo: z.number().gt(1).optional(),
    transfer: z
      .strictObject({
        messageTypes: z.array(z.string().min(1)).min(1),
        locations: z.array(z.string().min(1)).min(1),
      })
      .optional(),
    code: z
      .strictObject({
        codes: z
          .array(
            z.strictObject({
              system: z.string().min(1),
              code: z.union([z.string(), z.number()]).transform(String),
            }),
          )
          .min(1),
      })
      .optional(),
  })
  .superRefine((r, ctx) => {
    const kinds = [r.lab, r.transfer, r.code].filter((x) => x !== undefined).length;
    if (kinds !== 1)
      ctx.addIssue({ code: 'custom', message: 'a rule has exactly one of lab, transfer or code' });
    if (r.lab !== undefined && (r.riseBy === undefined) === (r.riseTo === undefined))
      ctx.addIssue({ code: 'custom', message: 'a lab rule has exactly one of riseBy or riseTo' });
  });

export const outcomeSchema = z.strictObject({
  model: z.string().regex(/^[a-z][a-z0-9-]*$/),
  description: z.string().min(1),
  rules: z.array(rule).min(1),
});

export type OutcomeDefinition = z.infer<typeof outcomeSchema> & { file: string; horizonMs: number };
export type OutcomeRule = OutcomeDefinition['rules'][number];

/** GW_OUTCOMES_INVALID: an outcome definition file is invalid (no start). */
export class OutcomeError extends GatewayError {
  override name = 'OutcomeError';
  constructor(message: string) {
    super('GW_OUTCOMES_INVALID', message);
  }
}

/** Every `*.yaml` in dir (none when it does not exist); a bad file stops start-up naming file and key. */
export function loadOutcomes(
  dir: string,
  features: (model: string) => readonly string[] | undefined,
): OutcomeDefinition[] {
  if (!existsSync(dir)) return [];
  const out: OutcomeDefinition[] = [];
  for (const name of readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    const file = join(dir, name);
    let value: unknown;
    try {
      value = parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new OutcomeError(`outcome ${file}: not valid YAML (${(err as Error).message})`);
    }
    const r = outcomeSchema.safeParse(value);
    if (!r.success)
      throw new OutcomeError(
        `outcome ${file}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      );
    const known = features(r.data.model);
    if (!known) throw new OutcomeError(`outcome ${file}: model: no mapping feeds model '${r.data.model}'`);
    r.data.rules.forEach((x, i) => {
      if (x.lab && !known.includes(x.lab))
        throw new OutcomeError(
          `outcome ${file}: rules.${i}.lab: '${x.lab}' is not a feature of ${r.data.model}`,
        );
    });
    if (out.some((o) => o.model === r.data.model))
      throw new OutcomeError(`outcome ${file}: model: a second outcome for '${r.data.model}'`);
    out.push({ ...r.data, file, horizonMs: Math.max(...r.data.rules.map((x) => x.within)) });
  }
  return out;
}

export interface OutcomeEvent {
  patientKey: string;
  model: string;
  rule: string;
  at: string;
  value: number | null;
}

/**
 * The outcome events a message carries for each definition: later lab values (from what the
 * mapping accepted), transfers to a listed location, observations with a listed code.
 */
export function outcomeEvents(
  defs: readonly OutcomeDefinition[],
  event: ClinicalEvent,
  patientKey: string,
  monitored: readonly MonitoredInput[],
): OutcomeEvent[] {
  const out: OutcomeEvent[] = [];
  const when = event.occurredAt;
  const type = event.source.messageType.split('^').slice(0, 2).join('^');
  for (const def of defs) {
    for (const r of def.rules) {
      if (r.lab) {
        const input = monitored.find((m) => m.model === def.model);
        for (const v of input?.values ?? [])
          if (v.feature === r.lab)
            out.push({ patientKey, model: def.model, rule: r.name, at: v.observedAt, value: v.value });
      } else if (r.transfer) {
        const point = event.encounter?.location?.split('^')[0]?.trim();
        if (when && point && r.transfer.messageTypes.includes(type) && r.transfer.locations.includes(point))
          out.push({
            patientKey,
            model: def.model,
            rule: r.name,
            at: new Date(when).toISOString(),
            value: null,
          });
      } else if (r.code) {
        for (const o of event.observations) {
          const at = o.effectiveAt ?? when;
          if (at && r.code.codes.some((c) => c.code === o.code && c.system === o.system))
            out.push({
              patientKey,
              model: def.model,
              rule: r.name,
              at: new Date(at).toISOString(),
              value: null,
            });
        }
      }
    }
  }
  return out;
}

/** 1 when any rule holds within its window after the prediction, else 0. */
export function labelOf(
  def: OutcomeDefinition,
  prediction: { at: number; vals: ReadonlyArray<number | null>; features: readonly string[] },
  events: ReadonlyArray<{ rule: string; at: number; value: number | null }>,
): 0 | 1 {
  for (const r of def.rules) {
    const base = r.lab ? prediction.vals[prediction.features.indexOf(r.lab)] : undefined;
    for (const e of events) {
      if (e.rule !== r.name || e.at <= prediction.at || e.at > prediction.at + r.within) continue;
      if (!r.lab) return 1;
      if (base == null || e.value == null) continue;
      if (r.riseBy !== undefined && e.value - base >= r.riseBy - 1e-9) return 1;
      if (r.riseTo !== undefined && e.value >= r.riseTo * base - 1e-9) return 1;
    }
  }
  return 0;
}
