/**
 * The registry's records (migration 020): immutable model versions, their lifecycle, the aliases
 * and every alias move, and the governance audit. Pure SQL over the Database interface; the
 * running sessions live in governed.ts.
 */
import type { Database, Queryable } from '../../db/database.js';
import { GatewayError } from '../../errors/codes.js';
import type { ModelCard } from './card.js';
import type { OnnxSignature } from './signature.js';

export const ALIASES = ['production', 'shadow', 'canary'] as const;
export type Alias = (typeof ALIASES)[number];
export type VersionStatus = 'draft' | 'validated' | 'approved' | 'retired';

export interface ModelVersion {
  name: string;
  version: string;
  kind: 'onnx' | 'remote';
  sha256: string;
  remoteUrl: string | null;
  signature: OnnxSignature;
  mappingVersion: string | null;
  card: ModelCard;
  source: string;
  status: VersionStatus;
  createdAt: string;
  createdBy: string;
  validatedAt: string | null;
  validation: unknown;
  approvedAt: string | null;
  approvedBy: string | null;
  approvalReason: string | null;
  retiredAt: string | null;
  retiredBy: string | null;
  /** The retrain request this version answers (model monitoring), if any. */
  retrainedFrom: string | null;
}

export interface AliasState {
  name: string;
  alias: Alias;
  version: string;
  share: number;
  movedAt: string;
  movedBy: string;
}

export interface AliasMove {
  seq: number;
  name: string;
  alias: Alias;
  version: string | null;
  fromVersion: string | null;
  share: number | null;
  at: string;
  by: string;
  reason: string | null;
}

/** A governance rule refused the change (status 409 on HTTP, exit 1 on the CLI). */
export class GovernanceError extends GatewayError {
  constructor(message: string) {
    super('MODEL_GOVERNANCE', message);
    this.name = 'GovernanceError';
  }
}

const iso = (v: unknown) => (v == null ? null : (v instanceof Date ? v : new Date(String(v))).toISOString());
const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

const COLUMNS = `name, version, kind, sha256, remote_url, signature, mapping_version, card, source, status,
  created_at, created_by, validated_at, validation, approved_at, approved_by, approval_reason, retired_at, retired_by,
  retrained_from`;

function toVersion(r: Record<string, unknown>): ModelVersion {
  return {
    name: String(r.name),
    version: String(r.version),
    kind: r.kind as ModelVersion['kind'],
    sha256: String(r.sha256),
    remoteUrl: (r.remote_url as string | null) ?? null,
    signature: json(r.signature),
    mappingVersion: (r.mapping_version as string | null) ?? null,
    card: json(r.card),
    source: String(r.source),
    status: r.status as VersionStatus,
    createdAt: iso(r.created_at)!,
    createdBy: String(r.created_by),
    validatedAt: iso(r.validated_at),
    validation: r.validation == null ? null : json(r.validation),
    approvedAt: iso(r.approved_at),
    approvedBy: (r.approved_by as string | null) ?? null,
    approvalReason: (r.approval_reason as string | null) ?? null,
    retiredAt: iso(r.retired_at),
    retiredBy: (r.retired_by as string | null) ?? null,
    retrainedFrom: (r.retrained_from as string | null) ?? null,
  };
}

export interface NewVersion {
  name: string;
  version: string;
  kind: 'onnx' | 'remote';
  sha256: string;
  onnx?: Uint8Array;
  remoteUrl?: string;
  signature: OnnxSignature;
  mappingVersion?: string;
  card: ModelCard;
  source: string;
  by: string;
  /** Bundled demo models are registered approved (see README). */
  approved?: { by: string; reason: string };
  /** The retrain request it answers. */
  retrainedFrom?: string;
}

/** Registers a version; the same name+version again with the same bytes is a no-op, other bytes a refusal. */
export async function registerVersion(db: Database, v: NewVersion): Promise<ModelVersion> {
  const existing = await getVersion(db, v.name, v.version);
  if (existing) {
    if (existing.sha256 !== v.sha256)
      throw new GovernanceError(
        `${v.name}@${v.version} is already registered with sha256 ${existing.sha256}: versions are immutable, register a new version`,
      );
    return existing;
  }
  const approved = v.approved;
  await db.query(
    `insert into model_version (name, version, kind, sha256, onnx, remote_url, signature, mapping_version, card,
       source, status, created_by, validated_at, approved_at, approved_by, approval_reason, retrained_from)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::jsonb, $10, $11, $12, $13, $13, $14, $15, $16)
     on conflict (name, version) do nothing`,
    [
      v.name,
      v.version,
      v.kind,
      v.sha256,
      v.onnx ? Buffer.from(v.onnx) : null,
      v.remoteUrl ?? null,
      JSON.stringify(v.signature),
      v.mappingVersion ?? null,
      JSON.stringify(v.card),
      v.source,
      approved ? 'approved' : 'draft',
      v.by,
      approved ? new Date().toISOString() : null,
      approved?.by ?? null,
      approved?.reason ?? null,
      v.retrainedFrom ?? null,
    ],
  );
  return (await getVersion(db, v.name, v.version))!;
}

export async function getVersion(
  db: Queryable,
  name: string,
  version: string,
): Promise<ModelVersion | undefined> {
  const r = await db.query(`select ${COLUMNS} from model_version where name = $1 and version = $2`, [
    name,
    version,
  ]);
  return r.rows[0] ? toVersion(r.rows[0]) : undefined;
}

export async function versionBytes(db: Queryable, name: string, version: string): Promise<Uint8Array | null> {
  const r = await db.query<{ onnx: Uint8Array | null }>(
    'select onnx from model_version where name = $1 and version = $2',
    [name, version],
  );
  return r.rows[0]?.onnx ?? null;
}

export async function listVersions(db: Queryable, name?: string): Promise<ModelVersion[]> {
  const r = name
    ? await db.query(`select ${COLUMNS} from model_version where name = $1 order by created_at, version`, [
        name,
      ])
    : await db.query(`select ${COLUMNS} from model_version order by name, created_at, version`);
  return r.rows.map(toVersion);
}

export async function setValidated(db: Database, name: string, version: string, evidence: unknown) {
  const r = await db.query(
    `update model_version set status = 'validated', validated_at = now(), validation = $3::jsonb
      where name = $1 and version = $2 and status in ('draft', 'validated')`,
    [name, version, JSON.stringify(evidence)],
  );
  if (r.rowCount !== 1) await refuse(db, name, version, 'validated', ['draft', 'validated']);
}

export async function recordFailedValidation(db: Database, name: string, version: string, evidence: unknown) {
  await db.query(
    `update model_version set validation = $3::jsonb where name = $1 and version = $2 and status = 'draft'`,
    [name, version, JSON.stringify(evidence)],
  );
}

export async function setApproved(db: Database, name: string, version: string, by: string, reason: string) {
  if (!reason.trim()) throw new GovernanceError('an approval needs a reason');
  const r = await db.query(
    `update model_version set status = 'approved', approved_at = now(), approved_by = $3, approval_reason = $4
      where name = $1 and version = $2 and status = 'validated'`,
    [name, version, by, reason],
  );
  if (r.rowCount !== 1) await refuse(db, name, version, 'approved', ['validated']);
}

export async function setRetired(db: Database, name: string, version: string, by: string) {
  await db.transaction(async (tx) => {
    const live = await tx.query<{ alias: string }>(
      'select alias from model_alias where name = $1 and version = $2',
      [name, version],
    );
    if (live.rows.length > 0)
      throw new GovernanceError(
        `${name}@${version} is behind ${live.rows.map((r) => r.alias).join(', ')}: move the alias first`,
      );
    const r = await tx.query(
      `update model_version set status = 'retired', retired_at = now(), retired_by = $3
        where name = $1 and version = $2 and status <> 'retired'`,
      [name, version, by],
    );
    if (r.rowCount !== 1) await refuse(tx, name, version, 'retired', ['draft', 'validated', 'approved']);
  });
}

async function refuse(
  db: Queryable,
  name: string,
  version: string,
  to: string,
  from: string[],
): Promise<never> {
  const v = await getVersion(db, name, version);
  if (!v) throw new GovernanceError(`no version ${name}@${version}`);
  throw new GovernanceError(`${name}@${version} is ${v.status}; only ${from.join(' or ')} can become ${to}`);
}

/** What an alias may point at: production and canary an approved version, shadow a validated one too. */
const ALLOWED: Record<Alias, VersionStatus[]> = {
  production: ['approved'],
  canary: ['approved'],
  shadow: ['validated', 'approved'],
};

/** Moves (or with version null clears) an alias, keeping the move in the history. Rollback is a move. */
export async function moveAlias(
  db: Database,
  m: {
    name: string;
    alias: Alias;
    version: string | null;
    by: string;
    reason?: string;
    share?: number;
    /** Only when the alias points nowhere (start-up of many processes at once). */
    onlyIfUnset?: boolean;
  },
): Promise<AliasMove | undefined> {
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock(hashtext($1))', [`model-alias:${m.name}`]);
    if (m.version !== null) {
      const v = await getVersion(tx, m.name, m.version);
      if (!v) throw new GovernanceError(`no version ${m.name}@${m.version}`);
      if (!ALLOWED[m.alias].includes(v.status))
        throw new GovernanceError(
          `${m.name}@${m.version} is ${v.status}; ${m.alias} needs ${ALLOWED[m.alias].join(' or ')}`,
        );
    }
    if (m.share !== undefined && !(m.share >= 0 && m.share <= 1))
      throw new GovernanceError('share must be between 0 and 1');
    const cur = await tx.query<{ version: string }>(
      'select version from model_alias where name = $1 and alias = $2',
      [m.name, m.alias],
    );
    const from = cur.rows[0]?.version ?? null;
    if (m.onlyIfUnset && from !== null) return undefined;
    const at = new Date().toISOString();
    const share = m.share ?? (m.alias === 'canary' ? 0.1 : 1);
    if (m.version === null)
      await tx.query('delete from model_alias where name = $1 and alias = $2', [m.name, m.alias]);
    else
      await tx.query(
        `insert into model_alias (name, alias, version, share, moved_at, moved_by) values ($1, $2, $3, $4, $5, $6)
         on conflict (name, alias) do update set version = excluded.version, share = excluded.share,
           moved_at = excluded.moved_at, moved_by = excluded.moved_by`,
        [m.name, m.alias, m.version, share, at, m.by],
      );
    const r = await tx.query<{ seq: string }>(
      `insert into model_alias_history (name, alias, version, from_version, share, at, by_principal, reason)
       values ($1, $2, $3, $4, $5, $6, $7, $8) returning seq`,
      [m.name, m.alias, m.version, from, m.version === null ? null : share, at, m.by, m.reason ?? null],
    );
    return {
      seq: Number(r.rows[0]!.seq),
      name: m.name,
      alias: m.alias,
      version: m.version,
      fromVersion: from,
      share: m.version === null ? null : share,
      at,
      by: m.by,
      reason: m.reason ?? null,
    };
  });
}

export async function aliases(db: Queryable, name?: string): Promise<AliasState[]> {
  const r = await db.query<Record<string, unknown>>(
    `select name, alias, version, share, moved_at, moved_by from model_alias
      ${name ? 'where name = $1' : ''} order by name, alias`,
    name ? [name] : [],
  );
  return r.rows.map((x) => ({
    name: String(x.name),
    alias: x.alias as Alias,
    version: String(x.version),
    share: Number(x.share),
    movedAt: iso(x.moved_at)!,
    movedBy: String(x.moved_by),
  }));
}

function toMove(x: Record<string, unknown>): AliasMove {
  return {
    seq: Number(x.seq),
    name: String(x.name),
    alias: x.alias as Alias,
    version: (x.version as string | null) ?? null,
    fromVersion: (x.from_version as string | null) ?? null,
    share: x.share == null ? null : Number(x.share),
    at: iso(x.at)!,
    by: String(x.by_principal),
    reason: (x.reason as string | null) ?? null,
  };
}

export async function aliasHistory(db: Queryable, name: string): Promise<AliasMove[]> {
  const r = await db.query<Record<string, unknown>>(
    'select * from model_alias_history where name = $1 order by seq',
    [name],
  );
  return r.rows.map(toMove);
}

/** The version an alias pointed at at time `at` (null: none). */
export async function aliasAt(db: Queryable, name: string, alias: Alias, at: Date): Promise<string | null> {
  const r = await db.query<Record<string, unknown>>(
    `select * from model_alias_history where name = $1 and alias = $2 and at <= $3 order by at desc, seq desc limit 1`,
    [name, alias, at.toISOString()],
  );
  return r.rows[0] ? toMove(r.rows[0]).version : null;
}

export interface AuditEntry {
  principal: string;
  model?: string | undefined;
  version?: string | undefined;
  action: string;
  allowed: boolean;
  reason?: string | undefined;
}

export async function audit(db: Queryable, e: AuditEntry): Promise<void> {
  await db.query(
    'insert into model_audit (principal, model, version, action, allowed, reason) values ($1, $2, $3, $4, $5, $6)',
    [e.principal, e.model ?? null, e.version ?? null, e.action, e.allowed, e.reason ?? null],
  );
}

export async function auditLog(db: Queryable, model?: string, limit = 200) {
  const r = await db.query<Record<string, unknown>>(
    `select * from model_audit ${model ? 'where model = $1' : ''} order by seq desc limit ${Math.floor(limit)}`,
    model ? [model] : [],
  );
  return r.rows.map((x) => ({
    seq: Number(x.seq),
    at: iso(x.at),
    principal: x.principal,
    model: x.model,
    version: x.version,
    action: x.action,
    allowed: x.allowed,
    reason: x.reason,
  }));
}
