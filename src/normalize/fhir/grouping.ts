import { issue, resourceIdentity, sha256 } from '../../fhir/input.js';
import type { OperationOutcomeIssue, Resource } from '../../fhir/types.js';
import { normalizeRef, type PatientLinks, subjectOf } from './patients.js';

/**
 * One stored input is one patient's. A FHIR input naming several patients (a Bundle on the REST
 * door, a subscription notification) is split here: a Patient and the resources that reference it
 * (by `urn:uuid`, `Patient/id`, an absolute URL or `subject.identifier`) share a group, and each
 * group becomes an input of its own (a `collection` Bundle). Resources without a patient share the
 * group `unlinked`.
 */

export interface GroupEntry {
  index: number;
  fullUrl?: string;
  resource: Resource;
  /** Where the resource sits in the input, for issues: `Bundle.entry[2].resource`. */
  at: string;
}

export interface GroupOptions {
  /** Sender identity: the namespace of patient references. */
  sender: string;
  links: PatientLinks;
  /**
   * A subject reference to a patient neither in the input nor known: `refuse` it (the REST door:
   * an Observation is answered 422), or group `by-reference` (a notification from a source server:
   * the patient is read from the source when the input is processed).
   */
  unknownSubject: 'refuse' | 'by-reference';
}

export interface Grouping {
  /** Group key, unless the entry is refused. */
  group?: string;
  issues: OperationOutcomeIssue[];
}

export const UNLINKED = 'unlinked';

/** The patient group of each entry (same order), or why it cannot be matched to a patient. */
export async function groupByPatient(entries: readonly GroupEntry[], o: GroupOptions): Promise<Grouping[]> {
  const byRef = new Map<string, GroupEntry>();
  for (const e of entries) {
    if (e.fullUrl) byRef.set(e.fullUrl, e);
    if (e.resource.id) byRef.set(`${e.resource.resourceType}/${e.resource.id}`, e);
  }
  const out: Grouping[] = [];
  for (const e of entries) {
    const r = e.resource;
    if (r.resourceType === 'Patient') {
      if ((!Array.isArray(r.identifier) || r.identifier.length === 0) && o.unknownSubject === 'refuse') {
        out.push({
          issues: [issue('required', 'a Patient needs an identifier to be matched', `${e.at}.identifier`)],
        });
        continue;
      }
      out.push({ group: `entry:${e.index}`, issues: [] });
      continue;
    }
    const subject = subjectOf(r);
    if (!subject) {
      out.push({ group: UNLINKED, issues: [] });
      continue;
    }
    if (subject.identifier?.value) {
      out.push({ group: `id:${subject.identifier.system ?? ''}|${subject.identifier.value}`, issues: [] });
      continue;
    }
    const ref = subject.reference;
    const target = ref ? (byRef.get(ref) ?? byRef.get(normalizeRef(ref))) : undefined;
    if (target?.resource.resourceType === 'Patient') {
      out.push({ group: `entry:${target.index}`, issues: [] });
      continue;
    }
    if (ref && (o.unknownSubject === 'by-reference' || (await o.links.find(o.sender, ref)))) {
      out.push({ group: `ref:${normalizeRef(ref)}`, issues: [] });
      continue;
    }
    if (r.resourceType === 'Observation')
      out.push({
        issues: [
          issue(
            'not-found',
            'the subject is not a patient known to the gateway: send the Patient (with an identifier) first, in the same Bundle, or reference it by identifier',
            `${e.at}.subject`,
          ),
        ],
      });
    else out.push({ group: UNLINKED, issues: [] });
  }
  return out;
}

/** Entries by group, in the order groups first appear. */
export function byGroup<T>(items: readonly T[], groups: readonly Grouping[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  items.forEach((item, i) => {
    const g = groups[i]?.group;
    if (g === undefined) return;
    const list = out.get(g);
    if (list) list.push(item);
    else out.set(g, [item]);
  });
  return out;
}

/** The stored input of one group: a `collection` Bundle of its entries. */
export function groupBundle(members: ReadonlyArray<Pick<GroupEntry, 'fullUrl' | 'resource'>>): Buffer {
  return Buffer.from(
    JSON.stringify({
      resourceType: 'Bundle',
      type: 'collection',
      entry: members.map((m) => ({ ...(m.fullUrl ? { fullUrl: m.fullUrl } : {}), resource: m.resource })),
    }),
  );
}

/**
 * The control id of one group's input: `<prefix>|sha256:<hash of its resource versions>`, the same
 * for the same resources whatever their order, so a retried split stores nothing twice.
 */
export function groupControlId(
  prefix: string,
  members: ReadonlyArray<Pick<GroupEntry, 'fullUrl' | 'resource'>>,
): string {
  const versions = members
    .map((m) => resourceIdentity(m.resource, m.fullUrl))
    .map((id) => `${id.resource}|${id.version}`)
    .sort()
    .join('\n');
  return `${prefix}|sha256:${sha256(versions).slice(0, 32)}`;
}
