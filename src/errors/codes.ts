/**
 * The one table of the gateway's error codes. Each stable code has one PHI-free message template,
 * an HTTP status, the HL7 answer it maps to (ACK code + HL7 table 0357 error code) and a retry
 * class. Search the README ("Error codes", checked against this table by test/errors/) for a code
 * to find what to do about it. Templates carry no message content and no patient data.
 *
 * Retry classes: `never` (permanent: dead-letter at once, AR), `backoff` (transient: retry with
 * back-off, AE), `wait` (an outage: wait for the dependency, e.g. circuit open, database down).
 */
export type RetryClass = 'never' | 'backoff' | 'wait';

export interface ErrorCodeDef {
  status: number;
  ack: 'AR' | 'AE';
  /** HL7 table 0357 (ERR-3 / ERR-1.4). */
  hl7: string;
  retry: RetryClass;
  text: string;
}

const def = (
  status: number,
  ack: 'AR' | 'AE',
  hl7: string,
  retry: RetryClass,
  text: string,
): ErrorCodeDef => ({
  status,
  ack,
  hl7,
  retry,
  text,
});

export const ERROR_CODES = {
  // HL7 v2 intake: the message cannot be accepted as it is
  GW_HL7_NO_MSH: def(400, 'AR', '100', 'never', 'message does not start with an MSH segment'),
  GW_HL7_BAD_DELIMITERS: def(400, 'AR', '102', 'never', 'MSH-1/MSH-2 do not declare usable delimiters'),
  GW_HL7_NO_CONTROL_ID: def(400, 'AR', '101', 'never', 'MSH-10 (message control id) is empty'),
  GW_HL7_NO_TYPE: def(400, 'AR', '101', 'never', 'MSH-9 (message type) is empty'),
  GW_HL7_PARSE: def(400, 'AR', '102', 'never', 'message cannot be parsed: %s'),
  GW_HL7_TOO_LARGE: def(413, 'AR', '104', 'never', 'message of %s bytes is over the limit of %s bytes'),
  GW_HL7_UNSTORABLE: def(
    400,
    'AR',
    '102',
    'never',
    '%s holds a character that cannot be stored (%s); send it without',
  ),
  GW_HL7_FIELD_TOO_LONG: def(
    400,
    'AR',
    '104',
    'never',
    '%s is %s bytes long, over the limit of %s bytes the inbox can index',
  ),
  GW_HL7_PROCESSING_ID: def(
    400,
    'AR',
    '202',
    'never',
    'MSH-11 processing id %s is not accepted here (accepted: %s)',
  ),
  GW_SENDER_NOT_ALLOWED: def(403, 'AR', '207', 'never', 'sender %s is not on the allow-list'),
  // Storing
  GW_STORE_REFUSED: def(
    400,
    'AR',
    '207',
    'never',
    'the database refused to store this message (SQLSTATE %s); it cannot be stored as it is',
  ),
  GW_STORE_UNAVAILABLE: def(503, 'AE', '207', 'wait', 'message could not be stored now; retry later'),
  GW_INBOX_FULL: def(503, 'AE', '207', 'wait', 'inbox is full (%s messages pending); retry later'),
  GW_SHUTTING_DOWN: def(503, 'AE', '207', 'wait', 'gateway is shutting down; retry later'),
  // Processing
  GW_NOT_PROCESSED: def(500, 'AE', '207', 'backoff', 'message stored but its processing %s'),
  GW_PROCESSING_FAILED: def(500, 'AE', '207', 'never', 'processing failed (%s): %s'),
  GW_RAW_PRUNED: def(
    409,
    'AE',
    '207',
    'never',
    'the raw message was pruned after the retention period; only its hash and lineage remain',
  ),
  GW_RAW_UNREADABLE: def(500, 'AE', '207', 'never', '%s'),
  GW_IN_PROGRESS: def(409, 'AE', '207', 'backoff', 'the message is still being processed'),
  GW_UNPROCESSABLE: def(422, 'AE', '207', 'never', '%s'),
  GW_UNIT_CONVERSION: def(400, 'AR', '207', 'never', "cannot convert '%s' to '%s': %s"),
  // FHIR: the target server and the source servers
  GW_FHIR_UNAVAILABLE: def(
    503,
    'AE',
    '207',
    'wait',
    'FHIR server unavailable (circuit open); retry in %s ms',
  ),
  GW_FHIR_WRITE: def(502, 'AE', '207', 'backoff', '%s'),
  GW_SOURCE_FAILED: def(502, 'AE', '207', 'backoff', '%s'),
  // HTTP API
  GW_AUTH_MISSING: def(401, 'AR', '207', 'never', 'missing bearer token'),
  GW_AUTH_INVALID: def(401, 'AR', '207', 'never', 'invalid bearer token'),
  GW_AUTH_THROTTLED: def(
    429,
    'AE',
    '207',
    'wait',
    'too many failed authentications from this address; retry after %s s',
  ),
  GW_FORBIDDEN: def(403, 'AR', '207', 'never', 'this token lacks the %s scope'),
  GW_NOT_FOUND: def(404, 'AR', '207', 'never', '%s not found'),
  GW_BAD_REQUEST: def(400, 'AR', '207', 'never', '%s'),
  GW_UNSUPPORTED_MEDIA: def(415, 'AR', '207', 'never', 'unsupported content type %s'),
  GW_INTERNAL: def(500, 'AE', '207', 'backoff', 'internal error'),
  // Start-up refusals (exit non-zero)
  GW_CONFIG_INVALID: def(500, 'AE', '207', 'never', 'invalid configuration in %s:\n%s'),
  GW_MAPPING_INVALID: def(500, 'AE', '207', 'never', '%s'),
  GW_OUTCOMES_INVALID: def(500, 'AE', '207', 'never', '%s'),
  GW_DATA_DIR_LOCKED: def(
    500,
    'AE',
    '207',
    'never',
    'DATA_DIR %s is in use by gateway process %s (lock file %s); one process per DATA_DIR: stop that one (kill -TERM %s) or start this one with another DATA_DIR',
  ),
  // Models
  MODEL_INTEGRITY: def(
    500,
    'AE',
    '207',
    'never',
    'model card %s: refusing %s: sha256 is %s but the card expects %s',
  ),
  MODEL_INVALID: def(500, 'AE', '207', 'never', 'model card %s: %s'),
  MODEL_CARD_INVALID: def(500, 'AE', '207', 'never', 'model card %s: %s'),
  MODEL_MLFLOW_INVALID: def(500, 'AE', '207', 'never', 'MLflow model %s: %s'),
  MODEL_FEATURE_ORDER: def(500, 'AE', '207', 'never', '%s'),
  MODEL_INPUT: def(400, 'AR', '207', 'never', 'model %s: %s'),
  MODEL_GOVERNANCE: def(409, 'AR', '207', 'never', '%s'),
  MODEL_OVERLOADED: def(503, 'AE', '207', 'wait', 'model %s: %s requests already queued; retry later'),
  MODEL_DEADLINE: def(
    504,
    'AE',
    '207',
    'backoff',
    'model %s: request not started within its deadline of %s ms',
  ),
  MODEL_THREAD: def(500, 'AE', '207', 'backoff', 'model %s: %s'),
  MODEL_REMOTE: def(502, 'AE', '207', 'backoff', 'remote model %s: %s'),
} as const satisfies Record<string, ErrorCodeDef>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const isErrorCode = (c: unknown): c is ErrorCode =>
  typeof c === 'string' && Object.hasOwn(ERROR_CODES, c);

/** ERR-2 (ERL): segment id and field position of the field to blame. */
export interface ErrorLocation {
  segment: string;
  field: number;
}

/** What a throw site may set beyond the code's defaults (an HTTP status of a route, the parser's 0357 code…). */
export interface ErrorDetails {
  status?: number;
  hl7Code?: string;
  retry?: RetryClass;
  location?: ErrorLocation;
  /** HL7 table 0516 severity of ERR-4: E error (default), W warning, F fatal. */
  severity?: 'E' | 'W' | 'F';
  /** Ask the work queue to run the job again after this long, without using an attempt. */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * The one error type of the gateway: a code of the table, an HTTP status, an HL7 ACK code with
 * its ERR details, and a retry class. It becomes an ACK (errors/ack.ts), an HTTP reply
 * (errors/http.ts) or an OperationOutcome (errors/outcome.ts) in one place each.
 */
export class GatewayError extends Error {
  readonly status: number;
  readonly ack: 'AR' | 'AE';
  readonly hl7Code: string;
  readonly retry: RetryClass;
  readonly severity: 'E' | 'W' | 'F';
  /** Where in the message the error is (ERR-2: segment, sequence, field), when one field is to blame. */
  readonly location?: ErrorLocation;
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, ...args: string[]);
  constructor(code: ErrorCode, details: ErrorDetails, ...args: string[]);
  constructor(
    readonly code: ErrorCode,
    first?: string | ErrorDetails,
    ...rest: string[]
  ) {
    const details = typeof first === 'object' ? first : {};
    const args = typeof first === 'object' ? rest : first === undefined ? rest : [first, ...rest];
    const d = ERROR_CODES[code];
    let i = 0;
    super(
      d.text.replace(/%s/g, () => args[i++] ?? ''),
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.name = 'GatewayError';
    this.status = details.status ?? d.status;
    this.ack = d.ack;
    this.hl7Code = details.hl7Code ?? d.hl7;
    this.retry = details.retry ?? d.retry;
    this.severity = details.severity ?? 'E';
    if (details.location) this.location = details.location;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }

  toJSON() {
    return { error: { code: this.code, message: this.message } };
  }
}
