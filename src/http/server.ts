import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { GatewayError, operationOutcome } from '../errors/codes.js';
import type { Logger } from '../observability/logger.js';
import { errorInfo } from '../observability/logger.js';
import { checkedByRoute, hasScope, type Principal, requiredScope } from './auth.js';
import type { AuthThrottle } from './auth-throttle.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface HttpServerOptions {
  bodyLimitBytes: number;
  logger: Logger;
  authenticate(authorization: string | undefined): Principal | 'missing' | 'invalid';
  /** Slows token guessing per client address (config `http.authThrottle`). */
  throttle?: AuthThrottle;
  /** Counts each failed authentication (401) and each request refused for too many (429). */
  onAuthFailure?(outcome: 'rejected' | 'throttled'): void;
}

// The console's page shell and scripts hold no data (its data calls carry a token like any other).
const PUBLIC =
  /^\/(health\/(live|ready)|metrics|\.well-known\/jwks\.json|console|console\/|console\/(app\.js|console\.css|vendor\/[\w.-]+))(\?|$)/;
const isFhir = (url: string) =>
  url === '/fhir' || url.startsWith('/fhir/') || url.startsWith('/fhir?') || url.startsWith('/ingest/fhir');

/** Sends a GatewayError as JSON, or as an OperationOutcome on the FHIR routes. */
export function sendError(req: FastifyRequest, reply: FastifyReply, err: GatewayError) {
  if (err.status === 401) reply.header('www-authenticate', 'Bearer realm="ml-gateway"');
  if (isFhir(req.url)) {
    return reply.status(err.status).type('application/fhir+json').send(operationOutcome(err));
  }
  return reply.status(err.status).send(err.toJSON());
}

/**
 * The HTTP server: bearer authentication on every route but /health/* and /metrics, one error
 * handler that turns every error into JSON (an OperationOutcome under /fhir), never a stack trace.
 */
export function createHttpServer(o: HttpServerOptions): FastifyInstance {
  const app = Fastify({ bodyLimit: o.bodyLimitBytes, logger: false });

  app.addHook('onRequest', async (req, reply) => {
    const open = PUBLIC.test(req.url);
    // A public route needs no token; one sent anyway is checked (it shows more, e.g. /health/ready
    // error details), so a guess there counts as one anywhere else.
    if (open && !req.headers.authorization) return;
    const wait = o.throttle?.retryAfter(req.ip) ?? 0;
    if (wait > 0) {
      o.onAuthFailure?.('throttled');
      reply.header('retry-after', String(wait));
      return sendError(req, reply, new GatewayError('GW_AUTH_THROTTLED', String(wait)));
    }
    const who = o.authenticate(req.headers.authorization);
    if (who === 'invalid') {
      o.throttle?.failed(req.ip);
      o.onAuthFailure?.('rejected');
    }
    if (open) {
      if (typeof who === 'object') req.principal = who;
      return;
    }
    if (who === 'missing') return sendError(req, reply, new GatewayError('GW_AUTH_MISSING'));
    if (who === 'invalid') return sendError(req, reply, new GatewayError('GW_AUTH_INVALID'));
    req.principal = who;
    if (checkedByRoute(req.url)) return;
    const scope = requiredScope(req.method, req.url);
    if (!hasScope(who, scope)) return sendError(req, reply, new GatewayError('GW_FORBIDDEN', scope));
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof GatewayError) return sendError(req, reply, err);
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      const gw =
        e.statusCode === 415
          ? new GatewayError('GW_UNSUPPORTED_MEDIA', String(req.headers['content-type'] ?? 'none'))
          : new GatewayError('GW_BAD_REQUEST', e.message ?? 'bad request');
      Object.assign(gw, { status: e.statusCode });
      return sendError(req, reply, gw);
    }
    o.logger.error({ err: errorInfo(err), route: req.routeOptions.url }, 'request failed');
    return sendError(req, reply, new GatewayError('GW_INTERNAL'));
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(req, reply, new GatewayError('GW_NOT_FOUND', `route ${req.method} ${req.url.split('?')[0]}`)),
  );
  return app;
}
