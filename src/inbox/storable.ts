// The refusal of an unstorable header is an ACK rule: it lives in acks/storable.ts. The retry rule
// for a database's refusal of a row's data lives in errors/retry.ts.
export { assertStorable, HEADER_FIELD_LIMITS, nulLocation } from '../acks/storable.js';
export { isDataError } from '../errors/retry.js';
