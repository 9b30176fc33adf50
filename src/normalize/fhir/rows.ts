import type { Database } from '../../db/database.js';
import { PermanentFailure } from '../../errors/permanent.js';
import { resourceIdentity } from '../../fhir/input.js';
import { parseNotification } from '../../fhir/notification.js';
import type { Resource } from '../../fhir/types.js';
import type { SourceClient } from '../../sources/client.js';
import type { ClinicalEvent, FhirInput, PatientInfo } from '../event.js';
import { infoFromIdentifier, type PatientLinks, subjectOf } from './patients.js';
import { type IdentifierMapping, normalizeFhir } from './resources.js';
import { type NotificationSplitter, SPLIT_MESSAGE_TYPE } from './split.js';

/**
 * The FHIR edge of the pipeline: an inbox message of channel `fhir` or `subscription` (its JSON
 * bytes) -> one ClinicalEvent. Notification foci sent id-only, hasMember panel members not
 * included, and patients not yet known are read from the source server. Each resource version is
 * processed by the first message that carried it only (table fhir_resource_seen). A notification
 * naming several patients is split into one message per patient (split.ts) and recorded as such.
 */

export interface FhirRow {
  message_id: string;
  channel: string;
  sender: string;
  control_id: string;
}

export interface RowNormalizerDeps {
  db: Database;
  links: PatientLinks;
  identifiers: IdentifierMapping;
  sources: ReadonlyMap<string, SourceClient>;
  /** Splits a notification naming several patients into one message per patient. */
  splitter: NotificationSplitter;
}

export const FHIR_CHANNELS: ReadonlySet<string> = new Set(['fhir', 'subscription']);

interface Item {
  fullUrl?: string;
  resource: Resource;
}

const isPanel = (r: Resource) =>
  r.resourceType === 'Observation' &&
  Array.isArray(r.hasMember) &&
  r.hasMember.length > 0 &&
  !Object.keys(r).some((k) => k.startsWith('value'));

export function createFhirRowNormalizer(d: RowNormalizerDeps) {
  async function claim(row: FhirRow, item: Item): Promise<boolean> {
    const id = resourceIdentity(item.resource, item.fullUrl);
    await d.db.query(
      `insert into fhir_resource_seen (source, resource, version, message_id) values ($1, $2, $3, $4)
       on conflict do nothing`,
      [row.sender, id.resource, id.version, row.message_id],
    );
    const r = await d.db.query<{ message_id: string }>(
      'select message_id from fhir_resource_seen where source = $1 and resource = $2 and version = $3',
      [row.sender, id.resource, id.version],
    );
    return r.rows[0]?.message_id === row.message_id;
  }

  async function fetchFrom(source: SourceClient | undefined, reference: string): Promise<Resource> {
    if (!source)
      throw new PermanentFailure('an id-only reference needs a configured source server to read it from');
    if (!source.relative(reference))
      throw new PermanentFailure(`a reference to another server than source ${source.name} is not followed`);
    try {
      return await source.read(reference);
    } catch (err) {
      const status = (err as { status?: number }).status ?? 0;
      if (status === 404 || status === 410) throw new PermanentFailure(`${(err as Error).message}`);
      throw err; // transient: the queue retries
    }
  }

  async function patientOf(
    row: FhirRow,
    items: Item[],
    source: SourceClient | undefined,
  ): Promise<PatientInfo | undefined> {
    const patients = items.filter((i) => i.resource.resourceType === 'Patient');
    if (patients.length > 0) {
      const p = patients[0]!;
      const refs = [
        ...(p.resource.id ? [`Patient/${p.resource.id}`] : []),
        ...(p.fullUrl ? [p.fullUrl] : []),
      ];
      return d.db.transaction((tx) => d.links.link(tx, row.sender, refs, p.resource));
    }
    for (const it of items) {
      const s = subjectOf(it.resource);
      if (!s) continue;
      if (s.identifier) {
        const info = infoFromIdentifier(s.identifier, d.identifiers);
        if (info) return info;
      }
      if (!s.reference) continue;
      const linked = await d.links.find(row.sender, s.reference);
      if (linked) return linked;
      if (source?.relative(s.reference)) {
        const patient = await fetchFrom(source, s.reference);
        if (patient.resourceType !== 'Patient') continue;
        return d.db.transaction((tx) =>
          d.links.link(tx, row.sender, [s.reference!, `Patient/${patient.id}`], patient),
        );
      }
    }
    return undefined;
  }

  return async function normalize(row: FhirRow, bytes: Buffer): Promise<ClinicalEvent> {
    let json: Resource;
    try {
      json = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, '')) as Resource;
    } catch {
      throw new PermanentFailure('the stored FHIR input is not JSON');
    }
    const source = row.sender.startsWith('source:') ? d.sources.get(row.sender.slice(7)) : undefined;
    await d.splitter.linkPart(row);
    let notified = false;
    let items: Item[];
    let messageType = json.resourceType;
    const first = (json.entry as Array<{ resource?: Resource }> | undefined)?.[0]?.resource;
    if (
      json.resourceType === 'Bundle' &&
      (first?.resourceType === 'Parameters' || first?.resourceType === 'SubscriptionStatus')
    ) {
      const { notification } = parseNotification(json);
      if (!notification) throw new PermanentFailure('the stored notification is malformed');
      items = notification.resources.filter(
        (r) => !['Parameters', 'SubscriptionStatus'].includes(r.resource.resourceType),
      );
      const have = new Set(
        items.flatMap((i) => [i.fullUrl, i.resource.id && `${i.resource.resourceType}/${i.resource.id}`]),
      );
      for (const e of notification.events) {
        if (!e.focus || have.has(e.focus) || (source && have.has(source.relative(e.focus)))) continue;
        items.push({ resource: await fetchFrom(source, e.focus) }); // id-only
      }
      messageType = 'Bundle';
      notified = true;
    } else if (json.resourceType === 'Bundle') {
      items = ((json.entry as Item[] | undefined) ?? []).filter((e) => e?.resource);
    } else items = [{ resource: json }];

    // A hasMember panel's members, when the source can be asked for them.
    if (source) {
      for (const it of [...items]) {
        if (!isPanel(it.resource)) continue;
        for (const m of it.resource.hasMember as Array<{ reference?: string }>) {
          const rel = m.reference && source.relative(m.reference);
          if (rel && !items.some((x) => `${x.resource.resourceType}/${x.resource.id}` === rel))
            items.push({ resource: await fetchFrom(source, rel) });
        }
      }
    }
    // A Bundle without Observations names what it holds: no mapping takes `Bundle(Encounter)`.
    if (messageType === 'Bundle' && !items.some((i) => i.resource.resourceType === 'Observation'))
      messageType = `Bundle(${[...new Set(items.map((i) => i.resource.resourceType))].sort().join(',') || 'empty'})`;
    // One stored input is one patient's: the REST door groups by patient before storing, and a
    // notification naming several patients is split here, each patient's part a message of its own
    // (anything else naming several is refused rather than scored under the first).
    if (patientKeysOf(items).size > 1) {
      if (!notified) throw new PermanentFailure('the input holds resources of more than one patient');
      // The parts are processed as messages of their own; this one records the split and no score.
      await d.splitter.split(row, items);
      return normalizeFhir({
        source: {
          channel: row.channel,
          messageId: row.message_id,
          controlId: row.control_id,
          messageType: SPLIT_MESSAGE_TYPE,
        },
        patient: { identifiers: [] },
        resources: [],
      });
    }
    const patient = await patientOf(row, items, source);
    // Without Observations there is nothing to score: the message is recorded as ignored by its type.
    if (!patient && items.some((i) => i.resource.resourceType === 'Observation'))
      throw new PermanentFailure('the subject cannot be matched to a patient identifier');
    const resources: FhirInput[] = [];
    for (const it of items) {
      const r = it.resource;
      if (r.resourceType === 'Patient' || !(await claim(row, it))) continue;
      const local = r.id ? `${r.resourceType}/${r.id}` : (it.fullUrl ?? r.resourceType);
      resources.push({ resource: r, reference: source && r.id ? source.absolute(local) : local });
    }
    return normalizeFhir({
      source: { channel: row.channel, messageId: row.message_id, controlId: row.control_id, messageType },
      patient: patient ?? { identifiers: [] },
      resources,
    });
  };
}

/** `Type/id` of a reference, whether relative, absolute or versioned. */
const refKey = (ref: string) =>
  /([A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref)?.[1] ?? ref;

/** The distinct patients the items name: Patient resources and the subjects of Observations. */
function patientKeysOf(items: readonly Item[]): Set<string> {
  const alias = new Map<string, string>();
  const keys = new Set<string>();
  for (const it of items) {
    if (it.resource.resourceType !== 'Patient') continue;
    const key = it.resource.id ? `Patient/${it.resource.id}` : (it.fullUrl ?? '');
    for (const a of [key, it.fullUrl]) if (a) alias.set(a, key);
    keys.add(key);
  }
  // Observations are what is scored: theirs are the subjects that must agree.
  for (const it of items) {
    if (it.resource.resourceType !== 'Observation') continue;
    const s = subjectOf(it.resource);
    if (s?.reference)
      keys.add(alias.get(s.reference) ?? alias.get(refKey(s.reference)) ?? refKey(s.reference));
    else if (s?.identifier) keys.add(`identifier:${s.identifier.system ?? ''}|${s.identifier.value ?? ''}`);
  }
  return keys;
}
