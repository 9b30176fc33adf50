import type { Queryable } from '../db/database.js';
import { sql } from '../db/sql.js';

/**
 * The inbox rows GET /messages shows (src/messages/search.ts builds the page and its lineage
 * summaries on top): the search's SQL on `inbox`, in search.sql.
 */
const q = sql(import.meta.url, 'search', ['page', 'one'] as const);

/** What the search filters on, as the inbox holds it; every criterion given must hold. */
export interface InboxCriteria {
  controlId?: string;
  /** `APP|FACILITY` exactly, or `APP` for every facility of that application. */
  sender?: string;
  /** `ORU^R01` exactly, or `ORU` for every trigger. */
  type?: string;
  status?: readonly string[];
  patientDigests?: readonly string[];
  model?: string;
  from?: string;
  to?: string;
  /** Rows strictly older than this (received_at in microseconds, message id). */
  before?: { us: string; id: string };
}

export interface InboxSearchRow {
  message_id: string;
  control_id: string;
  sender: string;
  channel: string;
  message_type: string | null;
  status: string;
  status_reason: string | null;
  received_at: Date | string;
  received_us: string;
  updated_at: Date | string | null;
  replays: number;
  models: string[] | null;
  raw_available: boolean;
  dl_stage: string | null;
  dl_failed_at: Date | string | null;
  dl_resolved_at: Date | string | null;
}

/** Up to `limit` rows matching `c`, newest first (received_at, then message id). */
export async function searchInbox(db: Queryable, c: InboxCriteria, limit: number): Promise<InboxSearchRow[]> {
  const exact = (v: string | undefined, sep: string) => (v !== undefined && v.includes(sep) ? v : null);
  const prefix = (v: string | undefined, sep: string) => (v && !v.includes(sep) ? `${v}${sep}` : null);
  const r = await db.query<InboxSearchRow>(q.page, [
    c.controlId || null,
    c.sender ? exact(c.sender, '|') : null,
    prefix(c.sender, '|'),
    c.type ? exact(c.type, '^') : null,
    prefix(c.type, '^'),
    c.status?.length ? c.status : null,
    c.patientDigests ?? null,
    c.model || null,
    c.from || null,
    c.to || null,
    c.before?.us ?? null,
    c.before?.id ?? null,
    limit,
  ]);
  return r.rows;
}

/** One message's row; undefined when it is not stored. */
export async function inboxRow(db: Queryable, messageId: string): Promise<InboxSearchRow | undefined> {
  return (await db.query<InboxSearchRow>(q.one, [messageId])).rows[0];
}
