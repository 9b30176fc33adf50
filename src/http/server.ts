import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/codes.js';
import { errorHandler, sendHttpError } from '../errors/http.js';
import type { Logger } from '../observability/logger.js';
import { errorInfo } from '../observability/logger.js';
import { checkedByRoute, hasScope, type Principal, requiredScope } from '../security/auth.js';
import type { AuthThrottle } from '../security/auth-throttle.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface HttpServerOptions {
  bodyLimitBytes: number;
  /** Per route as registered (`/ingest/fhir`): its own body limit. A path no route has stops start-up. */
  bodyLimits?: Readonly<Record<string, number>>;
  /** HTTPS: PEM contents (the files are re-read by the caller, which swaps the context). */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean; rejectUnauthorized: boolean };
  /** Origins allowed cross-origin requests; empty (the default): no CORS headers at all. */
  corsOrigins?: readonly string[];
  logger: Logger;
  authenticate(authorization: string | undefined): Principal | 'missing' | 'invalid';
  /** Each request answered: method, route pattern ('unmatched' for none), status, seconds. */
  onResponse?(method: string, route: string, status: number, seconds: number): void;
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
  return sendHttpError(reply, err, isFhir(req.url)).sent;
}

/**
 * The console's scripts (Plotly included) are served by the gateway itself, none inline: scripts
 * from this origin only; inline styles (Plotly sets them); images from here or data: URLs.
 */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  frameAncestors: ["'none'"],
  formAction: ["'self'"],
};

const inFlight = new WeakMap<FastifyInstance, { n: number }>();

/** Requests the server has begun and not yet answered (a stop cuts the connections once none is left). */
export function requestsInFlight(app: FastifyInstance): number {
  return inFlight.get(app)?.n ?? 0;
}

/**
 * The HTTP server: bearer authentication on every route but /health/* and /metrics, one error
 * handler that turns every error into JSON (an OperationOutcome under /fhir), never a stack trace;
 * security headers on every answer (helmet: CSP, HSTS, nosniff, frame-ancestors none), CORS only
 * for the origins configured, and each route's body limit.
 */
export function createHttpServer(o: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    bodyLimit: o.bodyLimitBytes,
    logger: false,
    ...(o.tls
      ? {
          https: {
            cert: o.tls.cert,
            key: o.tls.key,
            ...(o.tls.ca ? { ca: o.tls.ca } : {}),
            requestCert: o.tls.requestCert,
            rejectUnauthorized: o.tls.rejectUnauthorized,
          },
        }
      : {}),
  }) as unknown as FastifyInstance;

  const limits = o.bodyLimits ?? {};
  const unmatched = new Set(Object.keys(limits));
  app.addHook('onRoute', (route) => {
    const limit = limits[route.url];
    if (limit === undefined) return;
    route.bodyLimit = limit;
    unmatched.delete(route.url);
  });
  app.addHook('onReady', async () => {
    if (unmatched.size > 0)
      throw new Error(`http.bodyLimits: no route ${[...unmatched].join(', ')} (give the path as registered)`);
  });
  void app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    // The API is called from other origins only where CORS allows it; never embedded.
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
  const corsOn = (o.corsOrigins ?? []).length > 0;
  if (corsOn)
    void app.register(cors, {
      origin: [...(o.corsOrigins ?? [])],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type'],
      credentials: false,
      maxAge: 600,
    });

  app.addHook('onRequest', async (req, reply) => {
    const open = PUBLIC.test(req.url);
    // A public route needs no token; one sent anyway is checked (it shows more, e.g. /health/ready
    // error details), so a guess there counts as one anywhere else.
    if (open && !req.headers.authorization) return;
    // A CORS preflight carries no credentials; the CORS plugin answers it.
    if (corsOn && req.method === 'OPTIONS') return;
    const wait = o.throttle?.retryAfter(req.ip) ?? 0;
    if (wait > 0) {
      o.onAuthFailure?.('throttled');
      return sendError(
        req,
        reply,
        new GatewayError('GW_AUTH_THROTTLED', { retryAfterMs: wait * 1000 }, String(wait)),
      );
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

  const observe = o.onResponse;
  if (observe) {
    app.addHook('onResponse', async (req, reply) => {
      observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    });
  }

  app.setErrorHandler(
    errorHandler({
      isFhir,
      onUnexpected: (err, req) =>
        o.logger.error({ err: errorInfo(err), route: req.routeOptions.url }, 'request failed'),
    }),
  );

  app.setNotFoundHandler((req, reply) =>
    sendError(req, reply, new GatewayError('GW_NOT_FOUND', `route ${req.method} ${req.url.split('?')[0]}`)),
  );
  const count = { n: 0 };
  inFlight.set(app, count);
  app.addHook('onRequest', async () => {
    count.n++;
  });
  app.addHook('onResponse', async () => {
    count.n = Math.max(0, count.n - 1);
  });
  app.addHook('onRequestAbort', (_req, done) => {
    count.n = Math.max(0, count.n - 1);
    done();
  });
  return app;
}
