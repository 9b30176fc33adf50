import { GatewayError } from './codes.js';

/** A failure that retrying will not mend: the message goes to `failed` with its reason at once. */
export class PermanentFailure extends GatewayError {
  override name = 'PermanentFailure';
  constructor(message: string) {
    super('GW_UNPROCESSABLE', message);
  }
}
