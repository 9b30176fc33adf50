import { createHash, randomUUID } from 'node:crypto';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import type { Database } from '../db/database.js';
import { GatewayError } from '../errors/codes.js';
import type { LineageStore } from '../lineage/store.js';
import { inSpan, linkTo, traceparentOf } from '../observability/tracing.js';
import { createFastCommit } from './group-commit.js';
import { isDataError } from './storable.js';

export interface InboxItem {
  channel: string;
  /** Sender identity for duplicate detection (MSH-3|MSH-4, or a FHIR source). */
  sender: string;
  controlId: string;
  messageType: string;
  raw: Buffer;
  /** W3C trace context the message's processing continues (default: the active span's). */
  traceparent?: string;
}

export interface Accepted {
  messageId: string;
  /** True when this sender + control id was already accepted: ACK again, do not process again. */
  duplicate: boolean;
  sha256: string;
}

interface Pending {
  /** As stored: `raw` sealed when a key is configured (InboxOptions.seal). */
  item: InboxItem;
  sha256: string;
  /** Size of the raw message as received. */
  bytes: number;
  receivedAt: string;
  resolve(a: Accepted): void;
  reject(e: unknown): void;
}

export interface InboxOptions {
  maxBatch: number;
  /** Unset: 0 on PostgreSQL (commits are one round trip), 2 ms on PGlite (each commit syncs a file). */
  maxDelayMs?: number;
  maxPending: number;
  /**
   * Called with the ids of newly stored (not duplicate) messages, after they are committed, and the
   * trace context of each that has one.
   */
  onCommitted(messageIds: string[], traceparents: ReadonlyMap<string, string>): void;
  /** How many accepted messages are still waiting to be processed (back-pressure). */
  backlog(): number;
  onBatch?(size: number, ms: number): void;
  /** The database refused a batch: every message in it is answered AE. */
  onStoreError?(err: unknown): void;
  /** The database refused one message for its data (it is answered AR; the others are stored). */
  onRowRefused?(err: unknown): void;
  /** Encrypts a raw body for storage (AES-256-GCM, src/security/raw-cipher.ts); unset: stored as received. */
  seal?(raw: Buffer): Buffer;
}

/** Duplicate-detection key: one sender's control id is accepted once. */
const keyOf = (sender: string, controlId: string) => `${sender}\u0000${controlId}`;

/** The detail of a message's `received` lineage entry (no content, only what identifies the bytes). */
function receivedDetail(p: Pending): Record<string, unknown> {
  return {
    channel: p.item.channel,
    controlId: p.item.controlId,
    messageType: p.item.messageType,
    sha256: p.sha256,
    bytes: p.bytes,
  };
}

/**
 * Durable intake with group commit. Every message waits for the transaction that stores it (and its
 * `received` lineage entry) to commit; messages arriving while a commit runs are gathered into the
 * next one, so under load many messages share one round-trip and one fsync.
 */
export class Inbox {
  private queue: Pending[] = [];
  private flushing = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  /** One-round-trip commit on PostgreSQL (PGlite runs in-process: round trips cost nothing there). */
  private readonly fast: ReturnType<typeof createFastCommit> | undefined;
  private readonly delayMs: number;

  constructor(
    private readonly db: Database,
    private readonly lineage: LineageStore,
    private readonly opts: InboxOptions,
  ) {
    this.fast = db.kind === 'postgres' ? createFastCommit(db, lineage.shards) : undefined;
    this.delayMs = opts.maxDelayMs ?? (db.kind === 'postgres' ? 0 : 2);
  }

  accept(item: InboxItem): Promise<Accepted> {
    if (this.closed) return Promise.reject(new GatewayError('GW_SHUTTING_DOWN'));
    const backlog = this.opts.backlog() + this.queue.length;
    if (backlog >= this.opts.maxPending) {
      return Promise.reject(new GatewayError('GW_INBOX_FULL', String(backlog)));
    }
    const traceparent = item.traceparent ?? traceparentOf();
    const stored: InboxItem = {
      ...item,
      ...(this.opts.seal ? { raw: this.opts.seal(item.raw) } : {}),
      ...(traceparent ? { traceparent } : {}),
    };
    return new Promise<Accepted>((resolve, reject) => {
      this.queue.push({
        item: stored,
        sha256: createHash('sha256').update(item.raw).digest('hex'),
        bytes: item.raw.length,
        receivedAt: new Date().toISOString(),
        resolve,
        reject,
      });
      if (!this.flushing) this.idle = this.flushLoop();
    });
  }

  /** Stops taking messages and waits for those already taken to be committed (or refused). */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle;
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        if (this.delayMs > 0 && this.queue.length < this.opts.maxBatch) {
          await new Promise((r) => setTimeout(r, this.delayMs));
        }
        const batch = this.queue.splice(0, this.opts.maxBatch);
        const t0 = performance.now();
        // One span for the group commit (its own trace, linked to every message's): the database
        // work of many messages belongs to none of them alone.
        const links = batch.flatMap((p) => linkTo(p.item.traceparent) ?? []);
        await inSpan('inbox.commit', { 'gateway.batch.size': batch.length }, () => this.commit(batch), {
          parent: ROOT_CONTEXT,
          links,
        });
        this.opts.onBatch?.(batch.length, performance.now() - t0);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    // Within one batch the same sender + control id may appear twice: store the first only.
    const firstByKey = new Map<string, Pending>();
    for (const p of batch) {
      const key = keyOf(p.item.sender, p.item.controlId);
      if (!firstByKey.has(key)) firstByKey.set(key, p);
    }
    const unique = [...firstByKey.values()];
    let stored: Map<string, string>;
    let existing: Map<string, string>;
    const refused = new Map<Pending, GatewayError>();
    try {
      [stored, existing] = (await this.commitFast(unique)) ?? (await this.commitTx(unique));
    } catch (cause) {
      if (!isDataError(cause)) {
        this.opts.onStoreError?.(cause);
        const err = new GatewayError('GW_STORE_UNAVAILABLE');
        for (const p of batch) p.reject(err);
        return;
      }
      // One row the database refuses (its data, not the database being away) must not fail the
      // others: store them one by one, and refuse only the rows that are refused alone.
      [stored, existing] = await this.commitEach(unique, refused);
    }
    const newIds: string[] = [];
    const traceparents = new Map<string, string>();
    const seen = new Set<string>();
    for (const p of batch) {
      const key = keyOf(p.item.sender, p.item.controlId);
      const id = stored.get(key);
      if (id && !seen.has(key)) {
        seen.add(key);
        newIds.push(id);
        if (p.item.traceparent) traceparents.set(id, p.item.traceparent);
        p.resolve({ messageId: id, duplicate: false, sha256: p.sha256 });
      } else {
        const dup = id ?? existing.get(key);
        const first = firstByKey.get(key);
        if (dup) p.resolve({ messageId: dup, duplicate: true, sha256: p.sha256 });
        else p.reject((first && refused.get(first)) ?? new GatewayError('GW_STORE_UNAVAILABLE'));
      }
    }
    if (newIds.length > 0) this.opts.onCommitted(newIds, traceparents);
  }

  /** The statement-by-statement commit (duplicates sorted out): one transaction for the rows. */
  private commitTx(unique: Pending[]): Promise<readonly [Map<string, string>, Map<string, string>]> {
    return this.db.transaction(async (tx) => {
      const ids = unique.map(() => randomUUID());
      const params: unknown[] = [];
      const values = unique.map((p, i) => {
        params.push(
          ids[i],
          p.item.channel,
          p.item.sender,
          p.item.controlId,
          p.item.messageType,
          p.sha256,
          p.item.raw,
          p.receivedAt,
          p.item.traceparent ?? null,
        );
        const b = i * 9;
        return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9})`;
      });
      const ins = await tx.query<{ message_id: string; sender: string; control_id: string }>(
        `insert into inbox (message_id, channel, sender, control_id, message_type, sha256, raw, received_at,
                            traceparent)
       values ${values.join(', ')}
       on conflict (sender, control_id) do nothing
       returning message_id, sender, control_id`,
        params,
      );
      const storedIds = new Map(ins.rows.map((r) => [keyOf(r.sender, r.control_id), r.message_id]));
      const dupes = unique.filter((p) => !storedIds.has(keyOf(p.item.sender, p.item.controlId)));
      const existingIds = new Map<string, string>();
      if (dupes.length > 0) {
        const found = await tx.query<{ message_id: string; sender: string; control_id: string }>(
          `select message_id, sender, control_id from inbox
          where (sender, control_id) in (select * from unnest($1::text[], $2::text[]))`,
          [dupes.map((p) => p.item.sender), dupes.map((p) => p.item.controlId)],
        );
        for (const r of found.rows) existingIds.set(keyOf(r.sender, r.control_id), r.message_id);
      }
      await this.lineage.append(
        tx,
        unique
          .filter((p) => storedIds.has(keyOf(p.item.sender, p.item.controlId)))
          .map((p) => ({
            messageId: storedIds.get(keyOf(p.item.sender, p.item.controlId))!,
            stage: 'received',
            at: p.receivedAt,
            detail: receivedDetail(p),
          })),
      );
      return [storedIds, existingIds] as const;
    });
  }

  /** Row by row, after the batch failed on a data error: refused rows are put in `refused`. */
  private async commitEach(
    unique: Pending[],
    refused: Map<Pending, GatewayError>,
  ): Promise<readonly [Map<string, string>, Map<string, string>]> {
    const stored = new Map<string, string>();
    const existing = new Map<string, string>();
    for (const p of unique) {
      try {
        const [s, e] = await this.commitTx([p]);
        for (const [k, v] of s) stored.set(k, v);
        for (const [k, v] of e) existing.set(k, v);
      } catch (err) {
        if (isDataError(err)) {
          refused.set(p, new GatewayError('GW_STORE_REFUSED', String((err as { code: string }).code)));
          this.opts.onRowRefused?.(err);
        } else {
          this.opts.onStoreError?.(err);
        }
      }
    }
    return [stored, existing] as const;
  }

  /** The whole batch in one statement when none of it is a duplicate; undefined: use the transaction. */
  private async commitFast(
    unique: Pending[],
  ): Promise<readonly [Map<string, string>, Map<string, string>] | undefined> {
    if (!this.fast) return undefined;
    const ids = unique.map(() => randomUUID());
    const outcome = await this.fast.commit(
      unique.map((p, i) => ({
        messageId: ids[i]!,
        channel: p.item.channel,
        sender: p.item.sender,
        controlId: p.item.controlId,
        messageType: p.item.messageType,
        sha256: p.sha256,
        raw: p.item.raw,
        receivedAt: p.receivedAt,
        ...(p.item.traceparent ? { traceparent: p.item.traceparent } : {}),
        detail: receivedDetail(p),
      })),
    );
    if (outcome !== 'stored') return undefined;
    const stored = new Map(unique.map((p, i) => [keyOf(p.item.sender, p.item.controlId), ids[i]!]));
    return [stored, new Map<string, string>()] as const;
  }
}
