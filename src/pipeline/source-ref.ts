/**
 * Where a feature value came from when the source was HL7 v2: `hl7:<sender>|<control id>|<OBX ref>`.
 * FHIR-sourced values carry their `Type/id` instead. Both end up in the output's Provenance.
 */
const PREFIX = 'hl7:';

export function hl7SourceRef(sender: string, controlId: string, obxRef: string): string {
  return `${PREFIX}${JSON.stringify([sender, controlId, obxRef])}`;
}

export function parseHl7SourceRef(
  ref: string | undefined,
): { sender: string; controlId: string; ref: string } | undefined {
  if (!ref?.startsWith(PREFIX)) return undefined;
  try {
    const [sender, controlId, obx] = JSON.parse(ref.slice(PREFIX.length)) as [string, string, string];
    return { sender, controlId, ref: obx };
  } catch {
    return undefined;
  }
}
