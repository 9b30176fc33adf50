import type { Database } from '../db/database.js';
import { decodeHl7Bytes } from '../hl7/charset.js';
import { rawBodies } from '../inbox/store.js';
import type { LineageStore } from '../lineage/store.js';
import type { RawCipher } from '../security/raw-cipher.js';

/** A view of raw message text, as recorded (HIPAA audit controls: who, when, which message). */
export interface PhiView {
  seq: number;
  at: string;
  principal: string;
  messageId: string;
  action: string;
  client: string | null;
}

export interface PhiAccessDeps {
  db: Database;
  lineage: LineageStore;
  cipher: RawCipher;
  now?: () => Date;
}

/**
 * Opens raw message text for a principal holding `phi:read`, recording each view first, in one
 * transaction: a row in `phi_access` and a `viewed` entry in the message's lineage chain (so the
 * view is as tamper-evident as the processing, and appears in its AuditEvents as a read). If the
 * record cannot be written, nothing is shown.
 */
export function createPhiAccess(d: PhiAccessDeps) {
  const now = d.now ?? (() => new Date());

  /** The raw text of each message id that has one (pruned bodies answer null and are not recorded). */
  async function openRaw(
    messageIds: readonly string[],
    who: { principal: string; action: string; client?: string },
  ): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    if (messageIds.length === 0) return out;
    const rows = await rawBodies(d.db, messageIds);
    const shown: string[] = [];
    for (const r of rows) {
      if (!r.raw) {
        out.set(r.message_id, null);
        continue;
      }
      const bytes = d.cipher.open(r.raw);
      const hl7 = r.channel !== 'fhir' && r.channel !== 'subscription';
      out.set(r.message_id, hl7 ? decodeHl7Bytes(bytes).text : bytes.toString('utf8'));
      shown.push(r.message_id);
    }
    if (shown.length === 0) return out;
    shown.sort();
    const at = now().toISOString();
    await d.db.transaction(async (tx) => {
      const ins = await tx.query<{ seq: string; message_id: string }>(
        `insert into phi_access (at, principal, message_id, action, client)
         select $1, $2, m, $3, $4 from unnest($5::text[]) as m
         returning seq, message_id`,
        [at, who.principal, who.action, who.client ?? null, shown],
      );
      const seqOf = new Map(ins.rows.map((r) => [r.message_id, Number(r.seq)]));
      await d.lineage.append(
        tx,
        shown.map((messageId) => ({
          messageId,
          stage: 'viewed',
          at,
          detail: {
            by: who.principal,
            view: 'raw',
            action: who.action,
            access: seqOf.get(messageId) ?? null,
          },
        })),
      );
    });
    return out;
  }

  async function views(messageId: string): Promise<PhiView[]> {
    const r = await d.db.query<{
      seq: string;
      at: Date | string;
      principal: string;
      message_id: string;
      action: string;
      client: string | null;
    }>('select * from phi_access where message_id = $1 order by seq', [messageId]);
    return r.rows.map((x) => ({
      seq: Number(x.seq),
      at: new Date(x.at).toISOString(),
      principal: x.principal,
      messageId: x.message_id,
      action: x.action,
      client: x.client,
    }));
  }

  return { openRaw, views };
}

export type PhiAccess = ReturnType<typeof createPhiAccess>;
