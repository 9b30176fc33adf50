/**
 * Services: the HTTP server with its routes (created first, so every service can register its
 * routes; listening from `listen` on), the circuit breaker around FHIR writes, and health checks.
 */
import { registerConsoleRoutes } from '../console/routes.js';
import { isResourceType } from '../fhir/validate.js';
import { registerFhirRoutes } from '../fhir-server/routes.js';
import { createFhirStore } from '../fhir-server/store.js';
import { createTokenAccess, httpsOptions, watchHttpsFiles } from '../http/access.js';
import { registerHealthRoutes } from '../http/health.js';
import { createHttpServer, requestsInFlight } from '../http/server.js';
import { registerLineageRoutes } from '../lineage/routes.js';
import { loadPatientDigester } from '../messages/patient-digest.js';
import { createPhiAccess } from '../messages/phi-access.js';
import { registerMessageRoutes } from '../messages/routes.js';
import { createAuthThrottle } from '../security/auth-throttle.js';
import { createCircuitBreaker } from '../writeback/fhir/breaker.js';
import type { Runtime } from './runtime.js';
import { BOTH, type Service } from './service.js';

export function http(): Service {
  let stopTlsWatch: (() => void) | undefined;
  return {
    name: 'http',
    roles: BOTH,
    async init(rt) {
      const { config, logger, metrics, db } = rt;
      rt.access = createTokenAccess(config, rt.base, rt.token, logger);
      rt.http = createHttpServer({
        bodyLimitBytes: config.http.bodyLimitBytes,
        bodyLimits: config.http.bodyLimits,
        corsOrigins: config.http.cors.origins,
        ...httpsOptions(config, rt.base),
        logger,
        authenticate: rt.access.authenticate,
        onResponse: (method, route, status, seconds) =>
          metrics.httpSeconds.observe({ method, route, status_code: String(status) }, seconds),
        throttle: createAuthThrottle({
          ...config.http.authThrottle,
          onThrottled: (address, failures) =>
            logger.warn(
              { alert: 'auth-failures', address, failures, windowMs: config.http.authThrottle.windowMs },
              'too many failed authentications from one address: answered 429 until the window ends',
            ),
        }),
        onAuthFailure: (outcome) => metrics.authFailures.inc({ outcome }),
      });
      stopTlsWatch = watchHttpsFiles(config, rt.base, rt.http.server, logger);
      rt.httpUrl = '';
      rt.fhirBaseUrl = config.fhir.baseUrl ?? '';
      rt.embedded = !config.fhir.baseUrl;
      rt.fhirStore = rt.embedded ? createFhirStore(db) : undefined;
      // Index the FHIR R4 definitions now (about a second) rather than on the first write.
      isResourceType('Observation');
      if (rt.fhirStore)
        registerFhirRoutes(rt.http, rt.fhirStore, { prefix: '/fhir', baseUrl: () => `${rt.httpUrl}/fhir` });
      registerLineageRoutes(rt.http, rt.lineage);
      registerConsoleRoutes(rt.http);
      rt.digester = await loadPatientDigester(db);
      registerMessageRoutes(rt.http, {
        db,
        digester: rt.digester,
        phi: createPhiAccess({ db, lineage: rt.lineage, cipher: rt.cipher }),
      });
      rt.breaker = createCircuitBreaker({
        ...config.fhir.circuitBreaker,
        onStateChange: (state) => {
          metrics.fhirCircuitState.set(state === 'closed' ? 0 : state === 'half-open' ? 1 : 2);
          metrics.fhirCircuitTransitions.inc({ state });
          (state === 'open' ? logger.warn : logger.info).call(logger, { state }, 'FHIR circuit breaker');
        },
      });
      rt.checks = {
        database: async () => {
          await db.ping();
          return { kind: db.kind };
        },
        fhir: () => fhirCheck(rt),
        models: async () => ({ loaded: rt.models.list().map((m) => `${m.name}@${m.version}`) }),
      };
    },
    async close(rt) {
      rt.access?.close();
      stopTlsWatch?.();
      if (!rt.http) return;
      // In-flight requests get the MLLP drain's grace; once none is left (or the grace is over)
      // every connection still open is cut: a kept-alive or unused socket of a client must not
      // hold the stop for the server's keep-alive timeout.
      const deadline = Date.now() + rt.config.mllp.shutdownGraceMs;
      const cut = setInterval(() => {
        if (requestsInFlight(rt.http) === 0 || Date.now() > deadline) rt.http.server.closeAllConnections();
      }, 50);
      try {
        await rt.http.close();
      } finally {
        clearInterval(cut);
      }
    },
  };
}

/** The FHIR target answers /metadata (the embedded store: this process is up), and the circuit's state. */
async function fhirCheck(rt: Runtime) {
  const circuit = rt.breaker.state;
  if (rt.embedded) return { target: 'embedded', circuit };
  const res = await fetch(`${rt.fhirBaseUrl}/metadata`, {
    headers: rt.config.fhir.bearerToken ? { authorization: `Bearer ${rt.config.fhir.bearerToken}` } : {},
    signal: AbortSignal.timeout(2000),
  });
  if (!res.ok) throw new Error(`FHIR server answered ${res.status} to /metadata (circuit ${circuit})`);
  return { target: 'external', circuit };
}

/** Binds the HTTP port, and so knows the URLs this process (and its embedded FHIR store) answers at. */
export const listen: () => Service = () => ({
  name: 'listen',
  roles: BOTH,
  async init(rt) {
    const { config } = rt;
    registerHealthRoutes(rt.http, rt.metrics, rt.checks);
    await rt.http.listen({ host: config.host, port: config.http.port });
    const clientHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const addr = rt.http.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.http.port;
    rt.httpUrl = `${config.http.tls ? 'https' : 'http'}://${clientHost.includes(':') ? `[${clientHost}]` : clientHost}:${port}`;
    if (rt.embedded) rt.fhirBaseUrl = `${rt.httpUrl}/fhir`;
    rt.logger.info({ url: rt.httpUrl, fhir: rt.embedded ? 'embedded' : 'external' }, 'http listener ready');
  },
});
