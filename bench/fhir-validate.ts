import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Resource } from '../src/fhir/types.js';
import { projectProfile, validateFhir } from '../src/fhir/validate.js';
import { buildPredictionTransaction } from '../src/writeback/fhir/builders.js';
import { prediction } from '../test/helpers/fhir-fixtures.js';

export interface ValidateResult {
  resourceType: string;
  /** validateFhir: R4 + the project profile (parsed once) + the required codes, per resource. */
  oursMs: number;
  /** @medplum/core's validateResource(resource, { profile }): the profile parsed on every call. */
  medplumMs: number;
}

/** Mean ms of one call, over enough calls to take about 300 ms, best of three. */
function time(f: () => unknown): number {
  f();
  let n = 1;
  for (let t0 = performance.now(); performance.now() - t0 < 20; n *= 2) for (let i = 0; i < n; i++) f();
  n = Math.max(1, Math.round(n * 7));
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    best = Math.min(best, (performance.now() - t0) / n);
  }
  return best;
}

const medplum = (r: Resource, profile: unknown) => {
  try {
    return validateResource(r as never, { profile: profile as never });
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome.issue;
    throw err;
  }
};

/**
 * The three resources of a prediction write (Device, Observation, Provenance, each claiming its
 * project profile): what validating one costs the gateway, against @medplum/core's own
 * `validateResource` with the same profile, as the gateway called it before.
 */
export function benchValidate(): ValidateResult[] {
  return buildPredictionTransaction(prediction()).entry!.map((e) => {
    const r = e.resource as Resource;
    const profile = projectProfile(r.meta!.profile![0]!)!;
    return {
      resourceType: r.resourceType,
      oursMs: time(() => validateFhir(r)),
      medplumMs: time(() => medplum(r, profile)),
    };
  });
}
