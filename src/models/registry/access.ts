/**
 * Per-model access control for the model routes: each action needs the global scope or
 * `model:<name>:<action>`; every denial (and every governance decision) is written to model_audit.
 */
import type { FastifyRequest } from 'fastify';
import type { Database } from '../../db/database.js';
import { GatewayError } from '../../errors/codes.js';
import { hasModelScope, type ModelAction } from '../../security/auth.js';
import { audit } from './governance.js';

export function principalName(req: FastifyRequest): string {
  return req.principal?.name ?? 'anonymous';
}

/** Throws 403 (and audits the denial) unless the request's token may do `action` on `model`. */
export async function requireModel(
  db: Database,
  req: FastifyRequest,
  model: string,
  action: ModelAction,
  what: string = action,
  version?: string,
): Promise<string> {
  const who = principalName(req);
  if (hasModelScope(req.principal, model, action)) return who;
  await audit(db, {
    principal: who,
    model,
    version,
    action: what,
    allowed: false,
    reason: `lacks scope model:${model}:${action}`,
  });
  throw new GatewayError('GW_FORBIDDEN', `model:${model}:${action}`);
}

type Params = { name: string; version?: string; alias?: string };

/**
 * A route's permission as an `onRequest` hook: checked (and a denial audited) before the body is
 * read or validated, so a token without the scope gets 403 whatever it sent. `what` names the
 * action in the audit (a function of the route's parameters when it depends on them).
 */
export function modelAccess(db: Database, action: ModelAction, what?: string | ((p: Params) => string)) {
  return async (req: FastifyRequest): Promise<void> => {
    const p = req.params as Params;
    await requireModel(
      db,
      req,
      p.name,
      action,
      typeof what === 'function' ? what(p) : (what ?? action),
      p.version,
    );
  };
}
