import { isError, issue, parseInput, validateResource } from '../../fhir/input.js';
import { parseNotification } from '../../fhir/notification.js';
import type { OperationOutcomeIssue, Resource } from '../../fhir/types.js';
import type { ClinicalEvent, PatientInfo } from '../event.js';
import { byGroup, type GroupEntry, groupByPatient, UNLINKED } from './grouping.js';
import { infoFromIdentifier, type PatientLinks, subjectOf } from './patients.js';
import { type IdentifierMapping, normalizeFhir, patientInfo } from './resources.js';

/**
 * `gateway mappings check` on FHIR files (nothing stored, nothing fetched): a resource, a Bundle or
 * a subscription notification is checked as the gateway's doors would check it, and what they
 * would accept becomes one event per patient group, as the REST door and the notification split
 * group it (grouping.ts). Issues name the element (`Bundle.entry[2].resource.status`).
 */

export interface FhirDryRun {
  /** `resource`, `bundle` or `notification`. */
  kind: 'resource' | 'bundle' | 'notification';
  /** What the gateway would refuse, each issue pointing at the element; 400 or 422 as it would answer. */
  rejected: Array<{ status: number; issue: OperationOutcomeIssue }>;
  /**
   * What would be refused unless the gateway already knows the patient (an Observation whose
   * subject is a reference to a Patient not in the input: 422 on a first sending).
   */
  unlessKnown: Array<{ status: number; issue: OperationOutcomeIssue }>;
  /** Notes that are not errors (id-only foci that would be read from the source server). */
  notes: string[];
  /** One event per patient group of the accepted resources. */
  events: ClinicalEvent[];
}

/** In a dry run no patient is known yet: links are neither stored nor found. */
const NO_LINKS: PatientLinks = {
  link: async () => ({ identifiers: [] }),
  find: async () => undefined,
};

function patientOf(members: readonly GroupEntry[], m: IdentifierMapping): PatientInfo {
  const p = members.find((e) => e.resource.resourceType === 'Patient');
  if (p) return patientInfo(p.resource, m);
  for (const e of members) {
    const s = subjectOf(e.resource);
    const info = s?.identifier ? infoFromIdentifier(s.identifier, m) : undefined;
    if (info) return info;
  }
  return { identifiers: [] };
}

/** The message type the gateway's row normalizer gives such an input (rows.ts). */
function messageTypeOf(kind: FhirDryRun['kind'], members: readonly GroupEntry[]): string {
  if (kind === 'resource') return members[0]?.resource.resourceType ?? 'empty';
  if (members.some((e) => e.resource.resourceType === 'Observation')) return 'Bundle';
  return `Bundle(${[...new Set(members.map((e) => e.resource.resourceType))].sort().join(',') || 'empty'})`;
}

export async function dryRunFhir(bytes: Buffer, name: string, m: IdentifierMapping): Promise<FhirDryRun> {
  const rejected: FhirDryRun['rejected'] = [];
  const notes: string[] = [];
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    return {
      kind: 'resource',
      rejected: [{ status: 400, issue: issue('structure', 'the file is not JSON', '$this', 'fatal') }],
      unlessKnown: [],
      notes,
      events: [],
    };
  }
  const first = (json as { entry?: Array<{ resource?: Resource }> })?.entry?.[0]?.resource?.resourceType;
  const isNotification =
    (json as Resource)?.resourceType === 'Bundle' &&
    (first === 'Parameters' || first === 'SubscriptionStatus');

  let entries: GroupEntry[];
  let kind: FhirDryRun['kind'];
  if (isNotification) {
    kind = 'notification';
    const { notification: n, issues } = parseNotification(json);
    if (!n)
      return {
        kind,
        rejected: issues.map((i) => ({ status: 400, issue: i })),
        unlessKnown: [],
        notes,
        events: [],
      };
    entries = [];
    n.resources.forEach((r, i) => {
      const at = `Bundle.entry[${i + 1}].resource`;
      const problems = ['Patient', 'Observation', 'Encounter'].includes(r.resource.resourceType)
        ? validateResource(r.resource, at).filter(isError)
        : [];
      for (const p of problems) rejected.push({ status: 400, issue: p });
      if (problems.length === 0)
        entries.push({
          index: i + 1,
          ...(r.fullUrl ? { fullUrl: r.fullUrl } : {}),
          resource: r.resource,
          at,
        });
    });
    const have = new Set(entries.flatMap((e) => [e.fullUrl, `${e.resource.resourceType}/${e.resource.id}`]));
    const idOnly = n.events.filter((e) => e.focus && !have.has(e.focus)).length;
    if (idOnly > 0) notes.push(`${idOnly} id-only focus(es) would be read from the source server`);
    if (n.type !== 'event-notification') notes.push(`a ${n.type}: acknowledged, nothing to process`);
  } else {
    const parsed = parseInput(bytes);
    kind = parsed.body?.resourceType === 'Bundle' ? 'bundle' : 'resource';
    for (const i of parsed.issues.filter(isError)) rejected.push({ status: 400, issue: i });
    entries = [];
    for (const e of parsed.entries) {
      const errors = e.issues.filter(isError);
      for (const i of errors) rejected.push({ status: 400, issue: i });
      if (errors.length === 0)
        entries.push({
          index: e.index,
          ...(e.fullUrl ? { fullUrl: e.fullUrl } : {}),
          resource: e.resource,
          at: e.at,
        });
    }
  }

  const unlessKnown: FhirDryRun['unlessKnown'] = [];
  if (kind !== 'notification')
    for (const g of await groupByPatient(entries, {
      sender: 'dry-run',
      links: NO_LINKS,
      unknownSubject: 'refuse',
    }))
      for (const i of g.issues)
        (i.code === 'not-found' ? unlessKnown : rejected).push({ status: 422, issue: i });
  // What is shown is what would be extracted once the patient is known.
  const groups = await groupByPatient(entries, {
    sender: 'dry-run',
    links: NO_LINKS,
    unknownSubject: 'by-reference',
  });
  // A transaction, or a single resource, is all or nothing: one refused entry refuses it all.
  const bundleType = (json as { type?: unknown }).type;
  if (rejected.length > 0 && (kind === 'resource' || bundleType === 'transaction'))
    return { kind, rejected, unlessKnown, notes, events: [] };

  const events: ClinicalEvent[] = [];
  const grouped = byGroup(entries, groups);
  let k = 0;
  for (const [key, members] of grouped) {
    k++;
    const label = grouped.size > 1 ? `${name} [${key === UNLINKED ? 'no patient' : `patient ${k}`}]` : name;
    events.push(
      normalizeFhir({
        source: {
          channel: 'fixture',
          messageId: label,
          controlId: label,
          messageType: messageTypeOf(kind, members),
        },
        patient: patientOf(members, m),
        resources: members
          .filter((e) => e.resource.resourceType !== 'Patient')
          .map((e) => ({
            resource: e.resource,
            reference: e.resource.id ? `${e.resource.resourceType}/${e.resource.id}` : (e.fullUrl ?? e.at),
          })),
      }),
    );
  }
  return { kind, rejected, unlessKnown, notes, events };
}
