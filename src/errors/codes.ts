/**
 * Stable error codes, each with one message template, an HTTP status and the HL7 answer it maps to
 * (ACK code + HL7 table 0357 error code). Search the README for a code to find what to do about it.
 * Templates carry no message content and no patient data.
 */
export const ERROR_CODES = {
  GW_HL7_NO_MSH: { status: 400, ack: 'AR', hl7: '100', text: 'message does not start with an MSH segment' },
  GW_HL7_BAD_DELIMITERS: {
    status: 400,
    ack: 'AR',
    hl7: '102',
    text: 'MSH-1/MSH-2 do not declare usable delimiters',
  },
  GW_HL7_NO_CONTROL_ID: { status: 400, ack: 'AR', hl7: '101', text: 'MSH-10 (message control id) is empty' },
  GW_HL7_NO_TYPE: { status: 400, ack: 'AR', hl7: '101', text: 'MSH-9 (message type) is empty' },
  GW_HL7_PARSE: { status: 400, ack: 'AR', hl7: '102', text: 'message cannot be parsed: %s' },
  GW_HL7_TOO_LARGE: {
    status: 413,
    ack: 'AR',
    hl7: '104',
    text: 'message of %s bytes is over the limit of %s bytes',
  },
  GW_HL7_UNSTORABLE: {
    status: 400,
    ack: 'AR',
    hl7: '102',
    text: '%s holds a character that cannot be stored (%s); send it without',
  },
  GW_HL7_FIELD_TOO_LONG: {
    status: 400,
    ack: 'AR',
    hl7: '104',
    text: '%s is %s bytes long, over the limit of %s bytes the inbox can index',
  },
  GW_STORE_REFUSED: {
    status: 400,
    ack: 'AR',
    hl7: '207',
    text: 'the database refused to store this message (SQLSTATE %s); it cannot be stored as it is',
  },
  GW_STORE_UNAVAILABLE: {
    status: 503,
    ack: 'AE',
    hl7: '207',
    text: 'message could not be stored now; retry later',
  },
  GW_INBOX_FULL: {
    status: 503,
    ack: 'AE',
    hl7: '207',
    text: 'inbox is full (%s messages pending); retry later',
  },
  GW_SHUTTING_DOWN: { status: 503, ack: 'AE', hl7: '207', text: 'gateway is shutting down; retry later' },
  GW_HL7_PROCESSING_ID: {
    status: 400,
    ack: 'AR',
    hl7: '202',
    text: 'MSH-11 processing id %s is not accepted here (accepted: %s)',
  },
  GW_SENDER_NOT_ALLOWED: { status: 403, ack: 'AR', hl7: '207', text: 'sender %s is not on the allow-list' },
  GW_NOT_PROCESSED: { status: 500, ack: 'AE', hl7: '207', text: 'message stored but its processing %s' },
  GW_AUTH_MISSING: { status: 401, ack: 'AR', hl7: '207', text: 'missing bearer token' },
  GW_AUTH_INVALID: { status: 401, ack: 'AR', hl7: '207', text: 'invalid bearer token' },
  GW_AUTH_THROTTLED: {
    status: 429,
    ack: 'AE',
    hl7: '207',
    text: 'too many failed authentications from this address; retry after %s s',
  },
  GW_FORBIDDEN: { status: 403, ack: 'AR', hl7: '207', text: 'this token lacks the %s scope' },
  GW_RAW_PRUNED: {
    status: 409,
    ack: 'AE',
    hl7: '207',
    text: 'the raw message was pruned after the retention period; only its hash and lineage remain',
  },
  GW_NOT_FOUND: { status: 404, ack: 'AR', hl7: '207', text: '%s not found' },
  GW_BAD_REQUEST: { status: 400, ack: 'AR', hl7: '207', text: '%s' },
  GW_UNSUPPORTED_MEDIA: { status: 415, ack: 'AR', hl7: '207', text: 'unsupported content type %s' },
  GW_INTERNAL: { status: 500, ack: 'AE', hl7: '207', text: 'internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error type of the gateway. Becomes an ACK (AR/AE + ERR) or an HTTP error in one place each. */
export class GatewayError extends Error {
  readonly status: number;
  readonly ack: 'AR' | 'AE';
  readonly hl7Code: string;
  /** Where in the message the error is (ERR-2: segment, sequence, field), when one field is to blame. */
  location?: { segment: string; field: number };

  constructor(
    readonly code: ErrorCode,
    ...args: string[]
  ) {
    const def = ERROR_CODES[code];
    let i = 0;
    super(def.text.replace(/%s/g, () => args[i++] ?? ''));
    this.name = 'GatewayError';
    this.status = def.status;
    this.ack = def.ack;
    this.hl7Code = def.hl7;
  }

  toJSON() {
    return { error: { code: this.code, message: this.message } };
  }
}

/** A FHIR OperationOutcome for an error (FHIR routes). */
export function operationOutcome(err: GatewayError, severity: 'error' | 'fatal' = 'error') {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity,
        code:
          err.status === 404
            ? 'not-found'
            : err.status === 401
              ? 'login'
              : err.status === 403
                ? 'forbidden'
                : 'processing',
        details: { coding: [{ system: 'urn:ml-gateway:error', code: err.code }], text: err.message },
        diagnostics: err.message,
      },
    ],
  };
}
