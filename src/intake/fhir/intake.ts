import type { Database } from '../../db/database.js';
import { GatewayError } from '../../errors/codes.js';
import { operationOutcome } from '../../errors/outcome.js';
import { storeError } from '../../errors/store.js';
import { type InputEntry, isError, parseInput, resourceIdentity } from '../../fhir/input.js';
import type {
  Bundle,
  BundleEntry,
  OperationOutcome,
  OperationOutcomeIssue,
  Resource,
} from '../../fhir/types.js';
import type { Inbox } from '../../inbox/inbox.js';
import { groupBundle, groupByPatient, groupControlId, UNLINKED } from '../../normalize/fhir/grouping.js';
import type { PatientLinks } from '../../normalize/fhir/patients.js';
import { errorInfo, type Logger } from '../../observability/logger.js';

/**
 * `POST /ingest/fhir` (transport-agnostic core): a resource or a Bundle in; every resource
 * validated; the accepted ones grouped by patient and each group stored durably in the inbox (one
 * message per patient) before the answer. A resource version already received (same `Type/id` and
 * meta.versionId, or the same content) is answered `200 OK` and not processed again. The answer is
 * an OperationOutcome for a single resource, else a batch/transaction-response Bundle with a
 * status and an outcome per entry. A transaction is all or nothing.
 */

export interface FhirAnswer {
  status: number;
  body: OperationOutcome | Bundle;
}

export interface FhirIntakeDeps {
  db: Database;
  inbox: Inbox;
  links: PatientLinks;
  logger: Logger;
  onReceived?(channel: string): void;
}

export interface ReceiveOptions {
  channel: string;
  /** Sender identity: dedup key and the namespace of patient references. */
  sender: string;
}

export const outcome = (issues: OperationOutcomeIssue[]): OperationOutcome => operationOutcome(issues);
const info = (text: string) =>
  outcome([{ severity: 'information', code: 'informational', details: { text } }]);

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  400: '400 Bad Request',
  422: '422 Unprocessable Entity',
  503: '503 Service Unavailable',
};

interface Slot {
  entry: InputEntry;
  identity: { resource: string; version: string };
  group?: string;
  status?: number;
  issues: OperationOutcomeIssue[];
  messageId?: string;
}

export function createFhirIntake(d: FhirIntakeDeps) {
  async function seenVersions(sender: string, slots: Slot[]): Promise<Set<string>> {
    if (slots.length === 0) return new Set();
    const r = await d.db.query<{ resource: string; version: string }>(
      `select resource, version from fhir_resource_seen
        where source = $1 and (resource, version) in (select * from unnest($2::text[], $3::text[]))`,
      [sender, slots.map((s) => s.identity.resource), slots.map((s) => s.identity.version)],
    );
    return new Set(r.rows.map((x) => `${x.resource}\u0000${x.version}`));
  }

  /** Groups entries by patient (grouping.ts); an entry that cannot be matched is answered 422. */
  async function assignGroups(sender: string, slots: Slot[]): Promise<void> {
    const groups = await groupByPatient(
      slots.map((s) => s.entry),
      { sender, links: d.links, unknownSubject: 'refuse' },
    );
    slots.forEach((s, i) => {
      const g = groups[i]!;
      if (g.group !== undefined) s.group = g.group;
      else {
        s.status = 422;
        s.issues.push(...g.issues);
      }
    });
  }

  async function receive(bytes: Buffer, o: ReceiveOptions): Promise<FhirAnswer> {
    d.onReceived?.(o.channel);
    const parsed = parseInput(bytes);
    if (parsed.issues.some(isError) || !parsed.body) return { status: 400, body: outcome(parsed.issues) };
    const single = parsed.body.resourceType !== 'Bundle';
    const transaction = parsed.bundleType === 'transaction';
    const slots: Slot[] = parsed.entries.map((entry) => ({
      entry,
      identity: resourceIdentity(entry.resource, entry.fullUrl),
      issues: entry.issues.filter(isError),
      ...(entry.issues.some(isError) ? { status: 400 } : {}),
    }));
    const valid = () => slots.filter((s) => s.status === undefined);
    await assignGroups(o.sender, valid());
    if ((single || transaction) && slots.some((s) => s.status !== undefined)) {
      const status = slots.some((s) => s.status === 400) ? 400 : 422;
      return { status, body: outcome(slots.flatMap((s) => s.issues)) };
    }
    const seen = await seenVersions(o.sender, valid());
    for (const s of valid())
      if (seen.has(`${s.identity.resource}\u0000${s.identity.version}`)) s.status = 200;

    const groups = new Map<string, Slot[]>();
    for (const s of valid()) groups.set(s.group!, [...(groups.get(s.group!) ?? []), s]);
    const whole = groups.size === 1 && slots.every((s) => s.status === undefined);
    const bundleId = single ? '' : `Bundle/${parsed.body.id ?? '-'}`;
    try {
      for (const [key, members] of groups) {
        const raw = whole ? bytes : groupBundle(members.map((s) => s.entry));
        const first = members[0]!;
        const controlId = single
          ? `${first.identity.resource}|${first.identity.version}`
          : groupControlId(
              bundleId,
              members.map((s) => s.entry),
            );
        const messageType = single
          ? first.entry.resource.resourceType
          : key === UNLINKED
            ? 'Bundle:unlinked'
            : 'Bundle';
        // Patient links first, so that whoever processes this (or a later) message finds them.
        await d.db.transaction(async (tx) => {
          for (const s of members) {
            const r = s.entry.resource;
            if (r.resourceType !== 'Patient') continue;
            const refs = [
              ...(r.id ? [`Patient/${r.id}`] : []),
              ...(s.entry.fullUrl ? [s.entry.fullUrl] : []),
            ];
            await d.links.link(tx, o.sender, refs, r);
          }
        });
        const accepted = await d.inbox.accept({
          channel: o.channel,
          sender: o.sender,
          controlId,
          messageType,
          raw,
        });
        await d.db.query(
          `insert into fhir_resource_seen (source, resource, version, message_id)
           select $1, r, v, $4 from unnest($2::text[], $3::text[]) as t(r, v)
           on conflict do nothing`,
          [
            o.sender,
            members.map((s) => s.identity.resource),
            members.map((s) => s.identity.version),
            accepted.messageId,
          ],
        );
        for (const s of members) {
          s.status = accepted.duplicate ? 200 : 201;
          s.messageId = accepted.messageId;
        }
      }
    } catch (err) {
      // A row the database refuses for its data (a NUL, an index row too large) is not worth a retry.
      const gw = storeError(err);
      if (!(err instanceof GatewayError))
        d.logger.error({ channel: o.channel, err: errorInfo(err) }, 'FHIR intake failed');
      return { status: gw.status, body: operationOutcome(gw) as OperationOutcome };
    }
    return answer(parsed.body, parsed.bundleType, slots, single);
  }

  return { receive };
}

function entryOutcome(s: Slot): OperationOutcome {
  if (s.issues.length > 0) return outcome(s.issues);
  if (s.status === 201) return info(`stored as message ${s.messageId}`);
  if (s.status === 200)
    return info(
      s.messageId
        ? `already received (message ${s.messageId}): not processed again`
        : 'this version was already received: not processed again',
    );
  return info('accepted');
}

function answer(body: Resource, bundleType: string | undefined, slots: Slot[], single: boolean): FhirAnswer {
  if (single) {
    const s = slots[0]!;
    return { status: s.status ?? 200, body: entryOutcome(s) };
  }
  const entry: BundleEntry[] = slots.map((s) => {
    const r = s.entry.resource;
    const location = r.id
      ? `${r.resourceType}/${r.id}${s.identity.version.startsWith('v:') ? `/_history/${s.identity.version.slice(2)}` : ''}`
      : undefined;
    return {
      response: {
        status: STATUS_TEXT[s.status ?? 200] ?? String(s.status),
        ...(location && (s.status === 200 || s.status === 201) ? { location } : {}),
        outcome: entryOutcome(s),
      },
    };
  });
  const ok = slots.some((s) => s.status === 200 || s.status === 201);
  const status = ok ? 200 : slots.some((s) => s.status === 400) ? 400 : 422;
  return {
    status,
    body: {
      resourceType: 'Bundle',
      ...(body.id ? { id: body.id } : {}),
      type: bundleType === 'transaction' ? 'transaction-response' : 'batch-response',
      entry,
    },
  };
}
