import { GatewayError } from './codes.js';
import { isDataError } from './retry.js';

/**
 * A failure to store a received message, as the door answers it: a GatewayError as it is; a row the
 * database refuses for its data (retry class never) is GW_STORE_REFUSED with only its SQLSTATE (the
 * database's text may quote the data); anything else GW_STORE_UNAVAILABLE (retry later).
 */
export function storeError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (isDataError(err)) return new GatewayError('GW_STORE_REFUSED', String((err as { code: string }).code));
  return new GatewayError('GW_STORE_UNAVAILABLE', { cause: err });
}
