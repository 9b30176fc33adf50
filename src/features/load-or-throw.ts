import { GatewayError } from '../errors/codes.js';
import { formatMappingError, loadMappings, type Mapping } from './mapping.js';

/** GW_MAPPING_INVALID: a mapping file is invalid (no start). */
export class MappingConfigError extends GatewayError {
  override name = 'MappingConfigError';
  constructor(message: string) {
    super('GW_MAPPING_INVALID', message);
  }
}

/** Start-up: every mapping valid, or no start, with each error naming file, line and field. */
export function loadMappingsOrThrow(dir: string): Mapping[] {
  const { mappings, errors } = loadMappings(dir);
  if (errors.length > 0) {
    throw new MappingConfigError(
      `invalid mappings in ${dir}:\n${errors.map((e) => `  ${formatMappingError(e)}`).join('\n')}`,
    );
  }
  return mappings;
}
