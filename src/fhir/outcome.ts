import { operationOutcome } from '../errors/outcome.js';
import { retryForStatus } from '../errors/retry.js';
import type { OperationOutcome, OperationOutcomeIssue } from './types.js';

/**
 * The store's one error type: an HTTP status and the OperationOutcome that explains it. The
 * FHIR routes send it as is; other callers read `.outcome`.
 */
export class FhirOutcomeError extends Error {
  readonly outcome: OperationOutcome;

  constructor(
    readonly status: number,
    issues: OperationOutcomeIssue[],
  ) {
    super(issues.map(issueText).join('; ') || `HTTP ${status}`);
    this.name = 'FhirOutcomeError';
    this.outcome = operationOutcome(issues);
  }

  /** Its retry class (errors/retry.ts): a 4xx refusal is never retried. */
  get retry() {
    return retryForStatus(this.status);
  }
}

export function issueText(i: OperationOutcomeIssue): string {
  const text = i.details?.text ?? i.diagnostics ?? i.code;
  return i.expression?.length ? `${text} (at ${i.expression.join(', ')})` : text;
}

function issue(code: string, text: string, expression?: string): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, ...(expression ? { expression: [expression] } : {}) };
}

export const badRequest = (text: string, expression?: string) =>
  new FhirOutcomeError(400, [issue('invalid', text, expression)]);
export const notFound = (text: string) => new FhirOutcomeError(404, [issue('not-found', text)]);
export const preconditionFailed = (text: string) => new FhirOutcomeError(412, [issue('duplicate', text)]);
export const invalidResource = (issues: OperationOutcomeIssue[]) => new FhirOutcomeError(400, issues);

/** A success/information OperationOutcome (e.g. for batch entries). */
export function informational(text: string): OperationOutcome {
  return operationOutcome([{ severity: 'information', code: 'informational', details: { text } }]);
}

/** Any thrown value as a FhirOutcomeError (unknown errors become a 500 without internals). */
export function toOutcomeError(err: unknown): FhirOutcomeError {
  if (err instanceof FhirOutcomeError) return err;
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own refusals (bad JSON, another content type, too large) as the store words them.
    const code = status === 415 ? 'not-supported' : status === 413 ? 'too-costly' : 'invalid';
    return new FhirOutcomeError(status, [issue(code, (err as Error).message || 'bad request')]);
  }
  return new FhirOutcomeError(500, [issue('exception', 'internal error')]);
}
