import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, GatewayError } from './codes.js';
import { type Outcome, operationOutcome } from './outcome.js';

export interface HttpErrorReply {
  status: number;
  headers: Record<string, string>;
  /** `{ error: { code, message } }`, or an OperationOutcome on FHIR routes. */
  body: unknown;
  /** Not a GatewayError nor a client error: worth an error log line (without its text in the reply). */
  unexpected: boolean;
}

/** An error that already is a FHIR answer (fhir/outcome.ts's FhirOutcomeError): sent as it is. */
function fhirAnswer(err: unknown): { status: number; outcome: Outcome } | undefined {
  const e = err as { status?: unknown; outcome?: { resourceType?: unknown } } | null;
  return e && typeof e.status === 'number' && e.outcome?.resourceType === 'OperationOutcome'
    ? (e as { status: number; outcome: Outcome })
    : undefined;
}

/** Any thrown value as a GatewayError: Fastify's own 4xx (bad JSON, 415, 413) keep their status. */
export function toGatewayError(err: unknown, contentType?: string): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = err as Partial<FastifyError> | null;
  const status = e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return status === 415
      ? new GatewayError('GW_UNSUPPORTED_MEDIA', { status }, contentType ?? 'none')
      : new GatewayError('GW_BAD_REQUEST', { status }, e?.message || 'bad request');
  }
  return new GatewayError('GW_INTERNAL', { cause: err });
}

/** A server we called failed (its own status is on the error): 502 to our client, whatever it said. */
const upstreamFailure = (gw: GatewayError) => ERROR_CODES[gw.code].status === 502;

/**
 * The one error -> HTTP reply mapping: status, headers (`WWW-Authenticate` on 401, `Retry-After`
 * when the error asks to wait) and body: `{ error: { code, message } }`, or on FHIR routes an
 * OperationOutcome (a FhirOutcomeError's own).
 */
export function httpErrorReply(err: unknown, o: { fhir: boolean; contentType?: string }): HttpErrorReply {
  const answer = fhirAnswer(err);
  if (answer) {
    const gw = o.fhir
      ? undefined
      : toGatewayError({ statusCode: answer.status, message: (err as Error).message });
    return {
      status: answer.status,
      headers: {},
      body: gw ? gw.toJSON() : answer.outcome,
      unexpected: answer.status >= 500,
    };
  }
  const gw = toGatewayError(err, o.contentType);
  const headers: Record<string, string> = {};
  if (gw.status === 401) headers['www-authenticate'] = 'Bearer realm="ml-gateway"';
  if (gw.retryAfterMs !== undefined && gw.retry !== 'never')
    headers['retry-after'] = String(Math.max(1, Math.ceil(gw.retryAfterMs / 1000)));
  return {
    status: upstreamFailure(gw) ? ERROR_CODES[gw.code].status : gw.status,
    headers,
    body: o.fhir ? operationOutcome(gw) : gw.toJSON(),
    unexpected: gw !== err && gw.code === 'GW_INTERNAL',
  };
}

/** Sends an error by httpErrorReply. */
export function sendHttpError(reply: FastifyReply, err: unknown, fhir: boolean, contentType?: string) {
  const r = httpErrorReply(err, { fhir, ...(contentType ? { contentType } : {}) });
  for (const [k, v] of Object.entries(r.headers)) reply.header(k, v);
  if (fhir) reply.type('application/fhir+json');
  return { unexpected: r.unexpected, sent: reply.status(r.status).send(r.body) };
}

/**
 * The one Fastify error handler (the HTTP API's, and the embedded FHIR server's when it runs on its
 * own): `isFhir(url)` picks the OperationOutcome form; unexpected errors are logged, never sent.
 */
export function errorHandler(o: {
  isFhir: (url: string) => boolean;
  /** The embedded FHIR server words every error as its own OperationOutcome (fhir/outcome.ts). */
  asFhir?: (err: unknown) => unknown;
  onUnexpected?: (err: unknown, req: FastifyRequest) => void;
}) {
  return (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const fhir = o.isFhir(req.url);
    const e = fhir && o.asFhir ? o.asFhir(err) : err;
    const r = sendHttpError(reply, e, fhir, String(req.headers['content-type'] ?? 'none'));
    if (r.unexpected) o.onUnexpected?.(err, req);
    return r.sent;
  };
}
