import type { GatewayError } from './codes.js';

/** The OperationOutcome shape this module builds (structurally the one of fhir/types.ts). */
export interface OutcomeIssue {
  severity: 'fatal' | 'error' | 'warning' | 'information';
  code: string;
  details?: { coding?: Array<{ system?: string; code?: string }>; text?: string };
  diagnostics?: string;
  expression?: string[];
}
export interface Outcome<I extends OutcomeIssue = OutcomeIssue> {
  resourceType: 'OperationOutcome';
  issue: I[];
  [key: string]: unknown;
}

export const ERROR_SYSTEM = 'urn:ml-gateway:error';

/** FHIR issue type (value set issue-type) of a gateway error. */
function issueType(err: GatewayError): string {
  switch (err.status) {
    case 401:
      return 'login';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 413:
      return 'too-costly';
    case 415:
      return 'not-supported';
  }
  if (err.code === 'GW_INTERNAL') return 'exception';
  if (err.retry !== 'never' && err.status >= 500) return 'transient';
  return err.ack === 'AR' ? 'invalid' : 'processing';
}

/**
 * The one OperationOutcome builder: from a GatewayError (its code as a coding, `CODE: text`), or
 * from issues as they are (the embedded FHIR server's validation issues, information outcomes).
 */
export function operationOutcome(err: GatewayError, severity?: 'error' | 'fatal'): Outcome;
export function operationOutcome<I extends OutcomeIssue>(issues: I[]): Outcome<I>;
export function operationOutcome(
  x: GatewayError | OutcomeIssue[],
  severity: 'error' | 'fatal' = 'error',
): Outcome {
  if (Array.isArray(x)) return { resourceType: 'OperationOutcome', issue: x };
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity,
        code: issueType(x),
        details: { coding: [{ system: ERROR_SYSTEM, code: x.code }], text: `${x.code}: ${x.message}` },
        diagnostics: x.message,
      },
    ],
  };
}
