/**
 * Model registry routes: list and show, the card (Markdown or FHIR), history (which version was
 * live when), and the governed changes (register, validate, approve, alias, retire). Each checks
 * a per-model scope (access.ts) and audits the decision.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../../db/database.js';
import { GatewayError } from '../../errors/codes.js';
import type { Mapping } from '../../features/mapping.js';
import { hasModelScope } from '../../security/auth.js';
import { modelAccess, principalName } from '../registry/access.js';
import { parseModelCard } from '../registry/card.js';
import { buildCardBundle, renderCardMarkdown } from '../registry/card-render.js';
import {
  ALIASES,
  type Alias,
  aliasAt,
  aliases,
  aliasHistory,
  audit,
  auditLog,
  getVersion,
  listVersions,
  type ModelVersion,
  moveAlias,
  registerVersion,
  setApproved,
  setRetired,
} from '../registry/governance.js';
import type { GovernedRegistry } from '../runtime/governed.js';
import { readOnnxSignature, sha256Hex } from '../runtime/onnx-model.js';

export interface ModelRouteDeps {
  db: Database;
  models: GovernedRegistry;
  mappings: readonly Mapping[];
  /** Writes a version's Device and card DocumentReference to the FHIR server. */
  publishCard?(v: ModelVersion): Promise<void>;
  /** Markdown lines of a version's live performance for its card (model monitoring). */
  liveSection?(name: string, version: string): Promise<string[]>;
  /** Plans a round of re-scoring now (mini-batch jobs); answers the patients queued. */
  rescore?(name?: string): Promise<number>;
}

const NAME = /^[a-z][a-z0-9-]*$/;

/** A governance refusal is a GovernanceError (MODEL_GOVERNANCE, 409), sent by the one error handler. */
async function governed<T>(fn: () => Promise<T>): Promise<T> {
  return await fn();
}

function publicVersion(v: ModelVersion) {
  const { card: _card, ...rest } = v;
  return { ...rest, features: v.card.features.map((f) => f.name) };
}

async function summary(d: ModelRouteDeps, name: string) {
  const versions = await listVersions(d.db, name);
  return {
    name,
    aliases: Object.fromEntries(
      (await aliases(d.db, name)).map((a) => [a.alias, { version: a.version, share: a.share }]),
    ),
    versions: versions.map((v) => ({
      ...publicVersion(v),
      mappings: d.mappings.filter((x) => x.model === name).map((x) => ({ file: x.file, version: x.version })),
    })),
  };
}

async function versionOr404(d: ModelRouteDeps, name: string, version: string) {
  const v = await getVersion(d.db, name, version);
  if (!v) throw new GatewayError('GW_NOT_FOUND', `model version ${name}@${version}`);
  return v;
}

/** The version a card request is about: ?version=, else the one behind production. */
async function pickVersion(d: ModelRouteDeps, name: string, version: string | undefined) {
  if (version) return versionOr404(d, name, version);
  const prod = (await aliases(d.db, name)).find((a) => a.alias === 'production');
  const all = await listVersions(d.db, name);
  const v = prod ? all.find((x) => x.version === prod.version) : all.at(-1);
  if (!v) throw new GatewayError('GW_NOT_FOUND', `model ${name}`);
  return v;
}

export function registerModelRoutes(app: FastifyInstance, d: ModelRouteDeps) {
  const params = (req: FastifyRequest) => req.params as { name: string; version: string; alias: string };
  const body = (req: FastifyRequest) => (req.body ?? {}) as Record<string, unknown>;
  const decided = (
    req: FastifyRequest,
    model: string,
    version: string | undefined,
    action: string,
    reason?: string,
  ) => audit(d.db, { principal: principalName(req), model, version, action, allowed: true, reason });

  app.get('/models', async (req) => {
    const names = [...new Set((await listVersions(d.db)).map((v) => v.name))];
    const readable = names.filter((n) => hasModelScope(req.principal, n, 'read'));
    return Promise.all(readable.map((n) => summary(d, n)));
  });

  app.get('/models/:name', { onRequest: modelAccess(d.db, 'read') }, async (req) => {
    const { name } = params(req);
    const s = await summary(d, name);
    if (s.versions.length === 0) throw new GatewayError('GW_NOT_FOUND', `model ${name}`);
    const live = await pickVersion(d, name, undefined);
    return { ...s, card: live.card };
  });

  app.get('/models/:name/versions/:version', { onRequest: modelAccess(d.db, 'read') }, async (req) => {
    const { name, version } = params(req);
    const v = await versionOr404(d, name, version);
    return { ...publicVersion(v), card: v.card };
  });

  app.get(
    '/models/:name/card',
    { onRequest: modelAccess(d.db, 'read') },
    async (req, reply: FastifyReply) => {
      const { name } = params(req);
      const q = req.query as { version?: string; format?: string };
      const v = await pickVersion(d, name, q.version);
      if (q.format === 'fhir')
        return reply.type('application/fhir+json').send(buildCardBundle(v, v.approvedAt ?? v.createdAt));
      const live = await d.liveSection?.(name, v.version).catch(() => []);
      return reply.type('text/markdown; charset=utf-8').send(renderCardMarkdown(v, live ?? []));
    },
  );

  app.get('/models/:name/history', { onRequest: modelAccess(d.db, 'read') }, async (req) => {
    const { name } = params(req);
    const q = req.query as { at?: string };
    if (q.at !== undefined) {
      const at = new Date(q.at);
      if (Number.isNaN(at.getTime())) throw new GatewayError('GW_BAD_REQUEST', 'at must be an ISO 8601 time');
      const live: Record<string, string | null> = {};
      for (const alias of ALIASES) live[alias] = await aliasAt(d.db, name, alias, at);
      return { name, at: at.toISOString(), aliases: live };
    }
    const versions = await listVersions(d.db, name);
    return {
      name,
      moves: await aliasHistory(d.db, name),
      versions: versions.map((v) => ({
        version: v.version,
        status: v.status,
        createdAt: v.createdAt,
        createdBy: v.createdBy,
        validatedAt: v.validatedAt,
        approvedAt: v.approvedAt,
        approvedBy: v.approvedBy,
        approvalReason: v.approvalReason,
        retiredAt: v.retiredAt,
        retiredBy: v.retiredBy,
      })),
    };
  });

  app.get('/models/:name/audit', { onRequest: modelAccess(d.db, 'admin', 'audit.read') }, async (req) => {
    const { name } = params(req);
    return auditLog(d.db, name);
  });

  /** Registers a draft: { card, onnx: base64 } or { card, remoteUrl }, optional mappingVersion, source. */
  app.post(
    '/models/:name/versions',
    { onRequest: modelAccess(d.db, 'admin', 'register') },
    async (req, reply) => {
      const { name } = params(req);
      if (!NAME.test(name)) throw new GatewayError('GW_BAD_REQUEST', 'model names are kebab-case');
      const who = principalName(req);
      const b = body(req);
      let card: ReturnType<typeof parseModelCard>;
      try {
        card = parseModelCard(b.card, 'request body card');
      } catch (err) {
        throw new GatewayError('GW_BAD_REQUEST', (err as Error).message);
      }
      if (card.name !== name)
        throw new GatewayError('GW_BAD_REQUEST', `card names model '${card.name}', not '${name}'`);
      const remoteUrl = typeof b.remoteUrl === 'string' ? b.remoteUrl : undefined;
      const onnx = typeof b.onnx === 'string' ? Buffer.from(b.onnx, 'base64') : undefined;
      if (!remoteUrl === !onnx)
        throw new GatewayError('GW_BAD_REQUEST', 'give exactly one of onnx (base64) or remoteUrl');
      let signature: Awaited<ReturnType<typeof readOnnxSignature>>;
      let sha256 = card.onnx.sha256;
      if (onnx) {
        sha256 = sha256Hex(onnx);
        if (sha256 !== card.onnx.sha256)
          throw new GatewayError(
            'GW_BAD_REQUEST',
            `ONNX sha256 is ${sha256} but the card pins ${card.onnx.sha256}`,
          );
        try {
          signature = await readOnnxSignature(onnx);
        } catch (err) {
          throw new GatewayError('GW_BAD_REQUEST', `not a loadable ONNX model: ${(err as Error).message}`);
        }
        const input = signature.inputs.find((i) => i.name === card.onnx.input);
        if (!input || input.shape.at(-1) !== card.features.length)
          throw new GatewayError(
            'GW_BAD_REQUEST',
            `ONNX input '${card.onnx.input}' is missing or not [N, ${card.features.length}] as the card's features`,
          );
      } else {
        try {
          new URL(remoteUrl!);
        } catch {
          throw new GatewayError('GW_BAD_REQUEST', 'remoteUrl is not a URL');
        }
        signature = {
          inputs: [{ name: card.onnx.input, type: 'float32', shape: [-1, card.features.length] }],
          outputs: [{ name: card.onnx.output, type: 'float32', shape: [-1, card.onnx.outputIndex + 1] }],
        };
      }
      const mapping = d.mappings.find((m) => m.model === name);
      const retrainedFrom = typeof b.retrainedFrom === 'string' ? b.retrainedFrom : undefined;
      if (retrainedFrom) {
        const rr = await d.db.query<{ model: string }>('select model from retrain_request where id = $1', [
          retrainedFrom,
        ]);
        if (rr.rows[0]?.model !== name)
          throw new GatewayError(
            'GW_BAD_REQUEST',
            `retrainedFrom: no retrain request ${retrainedFrom} of ${name}`,
          );
      }
      const v = await governed(() =>
        registerVersion(d.db, {
          name,
          version: card.version,
          kind: onnx ? 'onnx' : 'remote',
          sha256,
          ...(onnx ? { onnx } : {}),
          ...(remoteUrl ? { remoteUrl } : {}),
          signature,
          ...(typeof b.mappingVersion === 'string'
            ? { mappingVersion: b.mappingVersion }
            : mapping
              ? { mappingVersion: mapping.version }
              : {}),
          card,
          source: typeof b.source === 'string' ? b.source.slice(0, 500) : 'api',
          by: who,
          ...(retrainedFrom ? { retrainedFrom } : {}),
        }),
      );
      await decided(req, name, v.version, 'register');
      await d.publishCard?.(v).catch(() => {});
      return reply.status(201).send(publicVersion(v));
    },
  );

  app.post(
    '/models/:name/versions/:version/validate',
    { onRequest: modelAccess(d.db, 'admin', 'validate') },
    async (req) => {
      const { name, version } = params(req);
      const who = principalName(req);
      const r = await governed(() => d.models.validate(name, version, who));
      await decided(req, name, version, 'validate', r.ok ? 'passed' : 'failed');
      return { ...r, version: publicVersion(await versionOr404(d, name, version)) };
    },
  );

  app.post(
    '/models/:name/versions/:version/approve',
    { onRequest: modelAccess(d.db, 'approve', 'approve') },
    async (req) => {
      const { name, version } = params(req);
      const who = principalName(req);
      const reason = body(req).reason;
      if (typeof reason !== 'string' || !reason.trim())
        throw new GatewayError('GW_BAD_REQUEST', 'an approval needs a reason');
      await governed(() => setApproved(d.db, name, version, who, reason));
      await decided(req, name, version, 'approve', reason);
      const v = await versionOr404(d, name, version);
      await d.publishCard?.(v).catch(() => {});
      return publicVersion(v);
    },
  );

  app.post(
    '/models/:name/versions/:version/retire',
    { onRequest: modelAccess(d.db, 'admin', 'retire') },
    async (req) => {
      const { name, version } = params(req);
      const who = principalName(req);
      await governed(() => setRetired(d.db, name, version, who));
      await decided(req, name, version, 'retire');
      return publicVersion(await versionOr404(d, name, version));
    },
  );

  app.post(
    '/models/:name/rescore',
    { onRequest: modelAccess(d.db, 'admin', 'rescore') },
    async (req, reply) => {
      const { name } = params(req);
      if (!d.rescore) throw new GatewayError('GW_NOT_FOUND', 're-scoring');
      return reply.status(202).send({ name, patients: await d.rescore(name) });
    },
  );

  /** Moves an alias: { version (null clears), reason, share (canary) }. Rollback is a move. */
  app.put(
    '/models/:name/aliases/:alias',
    { onRequest: modelAccess(d.db, 'admin', (p) => `alias.${p.alias}`) },
    async (req) => {
      const { name, alias } = params(req);
      if (!ALIASES.includes(alias as Alias))
        throw new GatewayError('GW_BAD_REQUEST', `alias must be one of ${ALIASES.join(', ')}`);
      const b = body(req);
      const version = b.version === null ? null : typeof b.version === 'string' ? b.version : undefined;
      if (version === undefined) throw new GatewayError('GW_BAD_REQUEST', 'version must be a string or null');
      const who = principalName(req);
      const move = await governed(() =>
        moveAlias(d.db, {
          name,
          alias: alias as Alias,
          version,
          by: who,
          ...(typeof b.reason === 'string' ? { reason: b.reason } : {}),
          ...(typeof b.share === 'number' ? { share: b.share } : {}),
        }),
      );
      await decided(
        req,
        name,
        version ?? undefined,
        `alias.${alias}`,
        typeof b.reason === 'string' ? b.reason : undefined,
      );
      await d.models.refresh();
      return move;
    },
  );
}
