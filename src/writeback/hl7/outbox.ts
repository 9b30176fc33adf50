import { createHash, randomBytes } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import { receivedAck } from '../../acks/received.js';
import type { Database, Queryable } from '../../db/database.js';
import type { LineageEntryInput } from '../../lineage/chain.js';
import type { LineageStore } from '../../lineage/store.js';
import { MllpClient, type MllpClientTls } from '../../mllp/client.js';
import type { Logger } from '../../observability/logger.js';
import { errorInfo } from '../../observability/logger.js';
import { contextFrom, inSpan, SpanKind } from '../../observability/tracing.js';
import type { RawCipher } from '../../security/raw-cipher.js';
import { ackCode } from './oru/message.js';

/** What a row carries: model results (ORU^R01) or an application ACK of a received message. */
export type OutboxKind = 'oru' | 'app-ack';

/** An MLLP destination and how hard to try it. */
export interface MllpDestination {
  name: string;
  host: string;
  port: number;
  timeoutMs: number;
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  tls?: MllpClientTls;
}

/** One message for one destination. */
export interface OutboxRow {
  /** The triggering message: every attempt becomes a lineage entry of it. */
  messageId: string;
  destination: string;
  /** Rows with the same key (and destination) are sent strictly in order; hashed before it is stored. */
  orderKey: string;
  /** MSH-10 of `text`, the same on every attempt. */
  controlId: string;
  /** The HL7 message; sealed at rest when the cipher has a key. */
  text: string;
  /** Added to every lineage entry of the row; no patient data. */
  detail?: Record<string, unknown>;
}

export type AttemptOutcome = 'sent' | 'retry' | 'refused';

export interface OutboxOptions {
  kind: OutboxKind;
  db: Database;
  lineage: LineageStore;
  logger: Logger;
  destinations: readonly MllpDestination[];
  /** Seals bodies at rest (src/security/raw-cipher.ts); without it they are stored in clear. */
  cipher?: RawCipher;
  onAttempt?(destination: string, outcome: AttemptOutcome): void;
  /** Rows of this kind still pending (all processes), after each look at the table. */
  onPending?(n: number): void;
  /** Longest time between two looks at the table when nothing wakes the loop. */
  pollMs?: number;
  /** Rows in flight at once in this process (one per destination and order key at most). */
  concurrency?: number;
  now?: () => Date;
}

type Attempt = { ok: true; code: string } | { ok: false; retry: boolean; reason: string; code?: string };

interface ClaimedRow {
  id: string;
  message_id: string;
  destination: string;
  control_id: string;
  body: Uint8Array | null;
  detail: Record<string, unknown> | string;
  attempts: number;
  /** Trace context of the triggering message: each attempt is a span of its trace. */
  traceparent: string | null;
}

const CLAIM_SQL = `
update egress_outbox o
   set lease_owner = $4, lease_until = now() + make_interval(secs => $5::float8 / 1000)
 where o.id in (
   select c.id from egress_outbox c
    where c.kind = $1 and c.status = 'pending' and c.destination = any($2::text[])
      and c.next_attempt_at <= now()
      and (c.lease_until is null or c.lease_until < now())
      and not exists (
        select 1 from egress_outbox p
         where p.kind = c.kind and p.destination = c.destination and p.order_key = c.order_key
           and p.status = 'pending' and (p.source_received_at, p.id) < (c.source_received_at, c.id))
    order by c.source_received_at, c.id
    limit $3
    for update skip locked)
returning o.id, o.message_id, o.destination, o.control_id, o.body, o.detail, o.attempts,
          (select i.traceparent from inbox i where i.message_id = o.message_id) as traceparent`;

/**
 * Pending rows, and how long until the next row that could be claimed is due (ms): not held by a
 * process, and first of its order key (rows behind a head in flight or in back-off wait for it).
 */
const NEXT_SQL = `
select (select count(*)::int from egress_outbox
         where kind = $1 and status = 'pending' and destination = any($2::text[])) as pending,
       (select greatest(0, extract(epoch from (min(c.next_attempt_at) - now())) * 1000)::float8
          from egress_outbox c
         where c.kind = $1 and c.status = 'pending' and c.destination = any($2::text[])
           and (c.lease_until is null or c.lease_until < now())
           and not exists (
             select 1 from egress_outbox p
              where p.kind = c.kind and p.destination = c.destination and p.order_key = c.order_key
                and p.status = 'pending'
                and (p.source_received_at, p.id) < (c.source_received_at, c.id))) as due_ms`;

const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

/**
 * A durable outbox of HL7 messages to MLLP destinations (table `egress_outbox`), one per kind.
 * Rows are written with the outcome that caused them (in its transaction) or on their own; a loop
 * (a timer, and a wake after each write) claims due rows with `FOR UPDATE SKIP LOCKED` and a lease,
 * so with several processes on one database each row is sent by one of them, and sends them: `AA`/`CA`
 * is success; `AE`/`CE`, time-outs and transport failures are retried with exponential back-off
 * (jittered, capped) up to maxAttempts; `AR`/`CR` is a refusal, not retried. A row is only due when
 * no row of its destination and order key whose message was received earlier is pending, so one
 * patient's results keep the order their messages came in (whatever order processing finished in)
 * while others go on. Every attempt is a lineage entry of the triggering message
 * (`<kind>-sent`, `<kind>-attempt-failed`, `<kind>-gave-up`) written with the row's new state.
 * Rows left pending by a stop (or a crash: once its lease ends) are sent after the next start.
 */
export function createOutbox(o: OutboxOptions) {
  const now = o.now ?? (() => new Date());
  const pollMs = o.pollMs ?? 1000;
  const concurrency = o.concurrency ?? 16;
  const owner = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const byName = new Map(o.destinations.map((d) => [d.name, d]));
  const names = [...byName.keys()];
  // How long a claim holds: a connect and a send at the slowest destination's time-out, and margin.
  const leaseMs = Math.max(0, ...o.destinations.map((d) => d.timeoutMs)) * 2 + 30_000;
  const clients = new Map<string, Promise<MllpClient>>();
  const running = new Set<Promise<void>>();
  const inserting = new Set<Promise<unknown>>();
  let timer: NodeJS.Timeout | undefined;
  let pumping = false;
  let again = false;
  let closed = false;
  let claimFailing = false;
  let insertTail: Promise<unknown> = Promise.resolve();

  async function client(dest: MllpDestination): Promise<MllpClient> {
    let c = clients.get(dest.name);
    if (!c) {
      c = connectWithin(dest);
      clients.set(dest.name, c);
      c.catch(() => clients.delete(dest.name));
    }
    return c;
  }

  /** Connects, or fails after the destination's timeoutMs (an address that never answers). */
  function connectWithin(dest: MllpDestination): Promise<MllpClient> {
    const p = MllpClient.connect({
      host: dest.host,
      port: dest.port,
      timeoutMs: dest.timeoutMs,
      ...(dest.tls ? { tls: dest.tls } : {}),
    });
    return new Promise((resolve, reject) => {
      let late = false;
      const t = setTimeout(() => {
        late = true;
        reject(new Error(`no connection within ${dest.timeoutMs} ms`));
      }, dest.timeoutMs);
      p.then(
        (c) => {
          clearTimeout(t);
          if (late) void c.close();
          else resolve(c);
        },
        (err) => {
          clearTimeout(t);
          reject(err);
        },
      );
    });
  }

  async function attempt(dest: MllpDestination, message: string): Promise<Attempt> {
    try {
      const c = await client(dest);
      const ack = await c.send(message);
      const code = ackCode(ack);
      const meaning = receivedAck(code);
      if (meaning === 'accepted') return { ok: true, code: code! };
      if (meaning === 'never') return { ok: false, retry: false, code: code!, reason: `refused (${code})` };
      return {
        ok: false,
        retry: true,
        reason: code ? `error (${code})` : 'no MSA in the answer',
        ...(code ? { code } : {}),
      };
    } catch (err) {
      // The connection is suspect after any transport failure: open a new one next time.
      const c = clients.get(dest.name);
      clients.delete(dest.name);
      void c?.then((x) => x.close()).catch(() => {});
      return { ok: false, retry: true, reason: (err as Error).message };
    }
  }

  /** Records the attempt and the row's new state in one transaction (only while we hold the lease). */
  async function settle(row: ClaimedRow, dest: MllpDestination, n: number, r: Attempt): Promise<void> {
    const status = r.ok ? 'sent' : !r.retry ? 'refused' : n >= dest.maxAttempts ? 'gave-up' : 'pending';
    const delayMs =
      status === 'pending'
        ? Math.min(dest.maxBackoffMs, dest.backoffMs * 2 ** (n - 1)) * (0.5 + Math.random() / 2)
        : null;
    const extra = typeof row.detail === 'string' ? JSON.parse(row.detail) : row.detail;
    const base = { destination: dest.name, controlId: row.control_id, attempt: n, ...extra };
    const at = now().toISOString();
    const entries: LineageEntryInput[] = [];
    const entry = (stage: string, detail: Record<string, unknown>) =>
      entries.push({ messageId: row.message_id, stage: `${o.kind}-${stage}`, at, detail });
    if (r.ok) entry('sent', { ...base, ack: r.code });
    else entry('attempt-failed', { ...base, reason: r.reason, ...(r.code ? { ack: r.code } : {}) });
    if (status === 'refused' || status === 'gave-up')
      entry('gave-up', { destination: dest.name, controlId: row.control_id, ...extra });
    await o.db.transaction(async (tx) => {
      const u = await tx.query(
        `update egress_outbox
            set status = $3, attempts = $4, last_reason = $5, last_ack = $6,
                next_attempt_at = case when $7::float8 is null then next_attempt_at
                                       else now() + make_interval(secs => $7::float8 / 1000) end,
                body = case when $3 = 'sent' then null else body end,
                lease_owner = null, lease_until = null, updated_at = now()
          where id = $1 and lease_owner = $2`,
        [row.id, owner, status, n, r.ok ? null : r.reason, r.code ?? null, delayMs],
      );
      // The lease ran out and another process took the row over: its record counts, not ours.
      if (u.rowCount !== 1) return;
      await o.lineage.append(tx, entries);
    });
    o.onAttempt?.(dest.name, r.ok ? 'sent' : r.retry ? 'retry' : 'refused');
    if (status === 'refused' || status === 'gave-up')
      o.logger.warn(
        { messageId: row.message_id, destination: dest.name, kind: o.kind, reason: r.ok ? '' : r.reason },
        `${o.kind} not delivered`,
      );
  }

  async function deliver(row: ClaimedRow): Promise<void> {
    const dest = byName.get(row.destination);
    if (!dest) return;
    let r: Attempt;
    try {
      if (!row.body) throw new Error('the message body is missing');
      r = await attempt(dest, (o.cipher ? o.cipher.open(row.body) : Buffer.from(row.body)).toString('utf8'));
    } catch (err) {
      // A body sealed with a key this process lacks: not sendable here; no content in the reason.
      r = { ok: false, retry: true, reason: (err as Error).message };
    }
    trace.getActiveSpan()?.setAttribute('hl7.ack_code', r.ok || r.code ? (r.code ?? '') : 'none');
    if (closed && !r.ok) {
      // Cut short by close(): not an attempt of the destination; the next start sends it again.
      await release(row.id);
      return;
    }
    await settle(row, dest, row.attempts + 1, r);
  }

  async function release(id?: string): Promise<void> {
    await o.db
      .query(
        `update egress_outbox set lease_owner = null, lease_until = null
          where lease_owner = $1 and ($2::bigint is null or id = $2::bigint)`,
        [owner, id ?? null],
      )
      .catch(() => {});
  }

  function start(row: ClaimedRow): void {
    const p: Promise<void> = inSpan(
      'egress.send',
      {
        'gateway.egress.kind': o.kind,
        'gateway.egress.destination': row.destination,
        'gateway.egress.attempt': row.attempts + 1,
        'gateway.message.id': row.message_id,
      },
      () => deliver(row),
      { kind: SpanKind.PRODUCER, parent: contextFrom(row.traceparent) },
    )
      .catch((err) => o.logger.error({ err: errorInfo(err), kind: o.kind }, 'egress delivery failed'))
      .finally(() => {
        running.delete(p);
        wake();
      });
    running.add(p);
  }

  function setTimer(ms: number): void {
    if (timer) clearTimeout(timer);
    timer = setTimeout(wake, Math.max(0, Math.min(ms, pollMs)));
    timer.unref();
  }

  async function pump(): Promise<void> {
    pumping = true;
    try {
      for (;;) {
        again = false;
        const free = concurrency - running.size;
        if (free > 0 && !closed) {
          const rows = await o.db.query<ClaimedRow>(CLAIM_SQL, [o.kind, names, free, owner, leaseMs]);
          for (const row of rows.rows) start(row);
          if (rows.rows.length === free) continue;
        }
        if (!again || closed) break;
      }
      if (closed) return;
      const next = await o.db.query<{ pending: number; due_ms: number | null }>(NEXT_SQL, [o.kind, names]);
      o.onPending?.(Number(next.rows[0]?.pending ?? 0));
      const due = next.rows[0]?.due_ms;
      setTimer(due === null || due === undefined ? pollMs : Number(due));
      claimFailing = false;
    } catch (err) {
      if (!claimFailing) o.logger.warn({ err: errorInfo(err), kind: o.kind }, 'egress outbox unreachable');
      claimFailing = true;
      if (!closed) setTimer(pollMs);
    } finally {
      pumping = false;
      if (again && !closed) wake();
    }
  }

  /** Looks at the table now (after rows were committed, or a delivery finished). */
  function wake(): void {
    if (closed || names.length === 0) return;
    if (pumping) {
      again = true;
      return;
    }
    void pump();
  }

  async function add(q: Queryable, rows: readonly OutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    const params: unknown[] = [];
    const values = rows.map((r) => {
      const body = Buffer.from(r.text, 'utf8');
      params.push(
        o.kind,
        r.messageId,
        r.destination,
        hashKey(r.orderKey),
        r.controlId,
        o.cipher ? o.cipher.seal(body) : body,
        JSON.stringify(r.detail ?? {}),
      );
      const b = params.length - 7;
      // Ordered by when the triggering message was received (processing may finish out of order).
      const received = `coalesce((select received_at from inbox where message_id = $${b + 2}), now())`;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}::jsonb, ${received})`;
    });
    await q.query(
      `insert into egress_outbox (kind, message_id, destination, order_key, control_id, body, detail,
                                  source_received_at)
       values ${values.join(', ')}
       on conflict (kind, destination, control_id) do nothing`,
      params,
    );
  }

  /** Pending rows of this kind for the destinations configured here (every process). */
  async function pending(): Promise<number> {
    if (names.length === 0) return 0;
    const r = await o.db.query<{ pending: number }>(NEXT_SQL, [o.kind, names]);
    return Number(r.rows[0]?.pending ?? 0);
  }

  // Rows a previous run (or another process with other destinations) left for destinations this
  // process does not know: say so once, and leave them for whoever has the destination.
  if (names.length > 0) {
    void o.db
      .query<{ destination: string }>(
        `select distinct destination from egress_outbox
          where kind = $1 and status = 'pending' and not (destination = any($2::text[]))`,
        [o.kind, names],
      )
      .then((r) => {
        if (r.rows.length > 0)
          o.logger.warn(
            { kind: o.kind, destinations: r.rows.map((x) => x.destination) },
            'pending egress rows name destinations that are not configured here; they wait',
          );
      })
      .catch(() => {});
  }
  wake(); // resume what a previous run left pending

  return {
    /** Writes rows inside the caller's transaction; call wake() once it committed. */
    add,
    /**
     * Writes rows in a transaction of their own and wakes the loop. Calls are written one after
     * another, in call order (a pool would otherwise let a later call take the earlier id).
     */
    async addNow(rows: readonly OutboxRow[]): Promise<void> {
      if (closed || rows.length === 0) return;
      const p = insertTail.then(() => add(o.db, rows));
      insertTail = p.catch(() => {});
      inserting.add(p);
      try {
        await p;
      } finally {
        inserting.delete(p);
      }
      wake();
    },
    wake,
    pending,
    /** Resolves once no row of this kind is pending for the destinations configured here. */
    async idle(timeoutMs = 60_000): Promise<void> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        await Promise.allSettled([...inserting]);
        if (running.size === 0 && inserting.size === 0 && (await pending()) === 0) return;
        if (Date.now() > until) throw new Error(`egress ${o.kind} still pending after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    /** Stops claiming, ends connections, lets deliveries in flight settle, hands back its leases. */
    async close(): Promise<void> {
      closed = true;
      if (timer) clearTimeout(timer);
      await Promise.allSettled([...inserting]);
      for (const c of clients.values()) await c.then((x) => x.close()).catch(() => {});
      clients.clear();
      // Deliveries fail fast once their connection is closed; one still connecting is not waited
      // for longer than this (its row is handed back and sent again after the next start).
      let wait: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...running]),
        new Promise((r) => {
          wait = setTimeout(r, 5000);
        }),
      ]);
      clearTimeout(wait);
      await release();
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
