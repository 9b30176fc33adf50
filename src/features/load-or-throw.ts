import { formatMappingError, loadMappings, type Mapping } from './mapping.js';

export class MappingConfigError extends Error {
  readonly code = 'GW_MAPPING_INVALID';
  override name = 'MappingConfigError';
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
