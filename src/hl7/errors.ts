/** HL7 table 0357 message error condition codes the parser reports. */
export type Hl7ErrorCode = '100' | '101' | '102' | '103';

/**
 * A message that cannot be parsed. `code` is the HL7 table 0357 code for the ERR segment of the
 * ACK (100 segment sequence error, 101 required field missing, 102 data type error). The text
 * names positions only, never message content: it reaches logs and ACKs.
 */
export class Hl7ParseError extends Error {
  readonly code: Hl7ErrorCode;
  /** Retry class (errors/retry.ts): the same bytes never parse. */
  readonly retry = 'never' as const;
  constructor(code: Hl7ErrorCode, message: string) {
    super(message);
    this.name = 'Hl7ParseError';
    this.code = code;
  }
}
