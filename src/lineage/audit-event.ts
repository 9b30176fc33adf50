import type { Bundle, Resource } from '../fhir/types.js';
import { canonicalJson, type LineageEntry } from './chain.js';
import type { LineageRecord } from './store.js';

/** Identifier system of a gateway message id (the inbox key), in AuditEvent entities. */
export const MESSAGE_ID_SYSTEM = 'urn:ml-gateway:message-id';
export const LINEAGE_STAGE_SYSTEM = 'urn:ml-gateway:lineage-stage';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';

/** AuditEvent.action per stage: C create, R read, U update, D delete, E execute. */
const ACTION: Record<string, 'C' | 'R' | 'U' | 'D' | 'E'> = {
  received: 'C',
  written: 'C',
  replayed: 'E',
  pruned: 'D',
  viewed: 'R',
};

/**
 * One lineage entry as a FHIR R4 AuditEvent. The entry's shard (when not 0), seq, hashes and canonical content travel
 * in `entity.detail`, so an auditor can recompute the chain from the AuditEvents alone; outputs
 * written are entities referencing the resources.
 */
export function lineageAuditEvent(
  record: Pick<LineageRecord, 'messageId' | 'source'>,
  e: LineageEntry,
  observer: string,
): Resource {
  const failed = e.stage === 'failed';
  const outputs =
    e.stage === 'written' && Array.isArray(e.detail.outputs) ? (e.detail.outputs as unknown[]) : [];
  const by = typeof e.detail.by === 'string' ? e.detail.by : undefined;
  const reason = typeof e.detail.reason === 'string' ? e.detail.reason : undefined;
  return {
    resourceType: 'AuditEvent',
    id: e.shard ? `lineage-${e.shard}-${e.seq}` : `lineage-${e.seq}`,
    type: { system: DCM, code: '110100', display: 'Application Activity' },
    subtype: [{ system: LINEAGE_STAGE_SYSTEM, code: e.stage }],
    action: ACTION[e.stage] ?? 'E',
    recorded: e.at,
    outcome: failed ? '8' : '0',
    ...(failed && reason ? { outcomeDesc: reason } : {}),
    agent: [
      {
        type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] },
        who: { display: observer },
        requestor: false,
      },
      ...(by ? [{ who: { display: by }, requestor: true }] : []),
    ],
    source: {
      observer: { display: observer },
      type: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
          code: '4',
          display: 'Application Server',
        },
      ],
    },
    entity: [
      {
        what: {
          identifier: { system: MESSAGE_ID_SYSTEM, value: record.messageId },
          display: `${record.source.channel} message, MSH-10 ${record.source.controlId}`,
        },
        type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
        detail: [
          ...(e.shard ? [{ type: 'lineage-shard', valueString: String(e.shard) }] : []),
          { type: 'lineage-seq', valueString: String(e.seq) },
          { type: 'lineage-prev-hash', valueString: e.prevHash },
          { type: 'lineage-hash', valueString: e.hash },
          { type: 'raw-sha256', valueString: record.source.sha256 },
          {
            type: 'lineage-detail',
            valueBase64Binary: Buffer.from(canonicalJson(e.detail)).toString('base64'),
          },
        ],
      },
      ...outputs.flatMap((o) => {
        const out = o as Record<string, unknown>;
        return ['resource', 'provenance', 'device']
          .map((k) => out[k])
          .filter((r): r is string => typeof r === 'string')
          .map((reference) => ({
            what: { reference },
            type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
          }));
      }),
    ],
  };
}

/** Every lineage entry of one message as AuditEvents in a FHIR `collection` Bundle. */
export function lineageAuditBundle(
  record: Pick<LineageRecord, 'messageId' | 'source'>,
  entries: readonly LineageEntry[],
  observer: string,
): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: new Date().toISOString(),
    entry: entries.map((e) => ({ resource: lineageAuditEvent(record, e, observer) })),
  } as Bundle;
}
