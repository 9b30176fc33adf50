import type { Database } from '../../db/database.js';
import type { Resource } from '../../fhir/types.js';
import type { Inbox } from '../../inbox/inbox.js';
import type { LineageStore } from '../../lineage/store.js';
import {
  byGroup,
  type GroupEntry,
  groupBundle,
  groupByPatient,
  groupControlId,
  UNLINKED,
} from './grouping.js';
import type { PatientLinks } from './patients.js';

/**
 * A subscription notification whose resources name several patients is split as the REST door
 * splits a Bundle (grouping.ts): each patient's resources become an inbox message of their own
 * (channel `subscription`, control id `<notification's control id>|sha256:<its resources>`), scored
 * under that patient only. The notification itself stays one message (its bytes, its event
 * numbers, counted once); its lineage gets a `split` entry naming each part, and each part's
 * lineage a `split-from` entry naming the notification.
 */

export interface SplitRow {
  message_id: string;
  channel: string;
  sender: string;
  control_id: string;
}

export interface SplitDeps {
  db: Database;
  inbox: Inbox;
  lineage: LineageStore;
  links: PatientLinks;
  now?: () => Date;
}

/** What the notification's processing records as its message type: no mapping takes it. */
export const SPLIT_MESSAGE_TYPE = 'Bundle(split per patient)';

/** A notification's control id (receiver.ts): `Subscription/<id>#<event numbers>|sha256:<bytes>`. */
const PART = /^(Subscription\/[^|]+\|sha256:[0-9a-f]+)\|sha256:[0-9a-f]+$/;

export function createNotificationSplitter(d: SplitDeps) {
  const now = d.now ?? (() => new Date());

  async function once(messageId: string, stage: string, detail: Record<string, unknown>): Promise<void> {
    const entries = await d.lineage.entriesFor(messageId);
    if (entries.some((e) => e.stage === stage)) return; // a retried run records it once
    await d.lineage.appendNow([{ messageId, stage, at: now().toISOString(), detail }]);
  }

  return {
    /** Stores each patient's resources of the notification `row` as a message of its own. */
    async split(
      row: SplitRow,
      items: ReadonlyArray<{ fullUrl?: string; resource: Resource }>,
    ): Promise<Array<{ messageId: string; controlId: string }>> {
      const entries: GroupEntry[] = items.map((it, index) => ({
        index,
        ...(it.fullUrl ? { fullUrl: it.fullUrl } : {}),
        resource: it.resource,
        at: `Bundle.entry[${index}].resource`,
      }));
      const groups = await groupByPatient(entries, {
        sender: row.sender,
        links: d.links,
        unknownSubject: 'by-reference', // the patient is read from the source when the part is processed
      });
      const parts: Array<{ messageId: string; controlId: string }> = [];
      for (const [key, members] of byGroup(entries, groups)) {
        const controlId = groupControlId(row.control_id, members);
        const a = await d.inbox.accept({
          channel: row.channel,
          sender: row.sender,
          controlId,
          messageType: key === UNLINKED ? 'Bundle:unlinked' : 'Bundle',
          raw: groupBundle(members),
        });
        parts.push({ messageId: a.messageId, controlId });
      }
      await once(row.message_id, 'split', { reason: 'resources of several patients', parts });
      return parts;
    },

    /** For a part of a split notification: records which notification it came from (once). */
    async linkPart(row: SplitRow): Promise<void> {
      const m = row.channel === 'subscription' ? PART.exec(row.control_id) : null;
      if (!m) return;
      const r = await d.db.query<{ message_id: string }>(
        'select message_id from inbox where sender = $1 and control_id = $2',
        [row.sender, m[1]!],
      );
      const parent = r.rows[0]?.message_id;
      if (parent) await once(row.message_id, 'split-from', { notification: parent, controlId: m[1]! });
    },
  };
}

export type NotificationSplitter = ReturnType<typeof createNotificationSplitter>;
