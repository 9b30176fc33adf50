import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import type { CanonicalObservation, ClinicalEvent } from '../normalize/event.js';

/**
 * FHIRPath extraction declared in mapping files (`fhirpath:` on an observation feature): the
 * expression is evaluated on each FHIR Observation of an event; every Quantity (or number) it
 * yields becomes a candidate value of the feature, with the resource's status and time, and goes
 * through the same unit conversion and range checks as a coded value.
 */

type Compiled = (resource: unknown) => unknown[];
const cache = new Map<string, Compiled>();

/** Compiles (once) an expression against the R4 model; throws on a syntax error. */
export function compileFhirPath(expression: string): Compiled {
  let f = cache.get(expression);
  if (!f) {
    const compiled = fhirpath.compile(expression, r4);
    f = (resource: unknown) => compiled(resource as never) as unknown[];
    cache.set(expression, f);
  }
  return f;
}

/** Why an expression cannot be used, or undefined when it compiles. */
export function fhirPathProblem(expression: string): string | undefined {
  try {
    compileFhirPath(expression);
    return undefined;
  } catch (err) {
    return `FHIRPath does not compile: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** The values an expression selects from the event's FHIR Observations, as canonical observations. */
export function fhirPathObservations(
  event: ClinicalEvent,
  feature: string,
  expression: string,
): CanonicalObservation[] {
  const out: CanonicalObservation[] = [];
  const f = compileFhirPath(expression);
  for (const { resource, reference } of event.fhir ?? []) {
    if (resource.resourceType !== 'Observation') continue;
    let results: unknown[];
    try {
      results = f(resource);
    } catch {
      continue;
    }
    const status = typeof resource.status === 'string' ? resource.status : undefined;
    const r = resource as Record<string, { start?: string } | string | undefined>;
    const effectiveAt = (r.effectiveDateTime ??
      r.effectiveInstant ??
      (r.effectivePeriod as { start?: string } | undefined)?.start ??
      r.issued) as string | undefined;
    results.forEach((v, i) => {
      const q = v as { value?: unknown; code?: unknown; unit?: unknown } | number;
      const value = typeof q === 'number' ? q : q?.value;
      if (typeof value !== 'number') return;
      const unit =
        typeof q === 'object'
          ? typeof q.code === 'string'
            ? q.code
            : typeof q.unit === 'string'
              ? q.unit
              : undefined
          : undefined;
      out.push({
        ref: `${reference}#fhirpath[${i}]`,
        code: feature,
        value: { kind: 'numeric', value },
        ...(unit ? { unit } : {}),
        ...(status ? { status } : {}),
        ...(effectiveAt ? { effectiveAt } : {}),
        sourceReference: reference,
      });
    });
  }
  return out;
}
