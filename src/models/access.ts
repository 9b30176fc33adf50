/**
 * Per-model access control for the model routes: each action needs the global scope or
 * `model:<name>:<action>`; every denial (and every governance decision) is written to model_audit.
 */
import type { FastifyRequest } from 'fastify';
import type { Database } from '../db/database.js';
import { GatewayError } from '../errors/codes.js';
import { hasModelScope, type ModelAction } from '../http/auth.js';
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
