import { readFileSync } from 'node:fs';
import { register } from 'node:module';
import type { Attributes, Context } from '@opentelemetry/api';
import type { tracing } from '@opentelemetry/sdk-node';

export interface Tracing {
  /** Ends and exports every span still buffered (call after the gateway closed). */
  shutdown(): Promise<void>;
}

/**
 * The OpenTelemetry Node SDK, configured by the standard variables (OTEL_TRACES_EXPORTER,
 * OTEL_EXPORTER_OTLP_ENDPOINT / _TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL http/protobuf, http/json
 * or grpc, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_PROPAGATORS,
 * OTEL_BSP_*): traces only, metrics stay on /metrics (prom-client). Loaded only when tracing is
 * asked for (otel-start.ts), and before pg, ioredis and fastify are imported, so that their
 * instrumentations take: PostgreSQL (pg) and Redis (ioredis, under BullMQ) spans within a message's
 * trace, Fastify's official instrumentation (@fastify/otel) for HTTP, undici for the FHIR writes
 * (which carries the trace into the FHIR server: `traceparent` on each request).
 */
export async function startTracing(env: Record<string, string | undefined>): Promise<Tracing> {
  // BullMQ imports ioredis as an ES module: only an import hook (import-in-the-middle) sees it.
  // The hook intercepts ioredis alone; everything else loads as before.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: ['ioredis'] } });
  const [
    { NodeSDK, resources },
    { PgInstrumentation },
    { IORedisInstrumentation },
    { UndiciInstrumentation },
    fastifyOtel,
    utils,
  ] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('@opentelemetry/instrumentation-undici'),
    import('@fastify/otel'),
    // The SDK's own reading of OTEL_TRACES_EXPORTER and the OTLP protocol (not re-exported by its index).
    import('@opentelemetry/sdk-node/build/src/utils.js'),
  ]);
  const exporters = utils.getSpanProcessorsFromEnv(undefined);
  const named =
    !!env.OTEL_SERVICE_NAME || /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const version = (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  const sdk = new NodeSDK({
    ...(named ? {} : { serviceName: 'ml-gateway' }),
    // OTEL_RESOURCE_ATTRIBUTES may override it (detected attributes win over these).
    resource: resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ 'service.version': version })),
    spanProcessors: [phiScrubber(), ...exporters],
    // Metrics are scraped from /metrics and logs go to stdout: no OTLP metric or log pipeline.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      // Only within a message's (or request's) trace: pollers and health checks make no traces.
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({
        requireParentSpan: true,
        // The command only: BullMQ's arguments are job data, keys and scripts.
        dbStatementSerializer: (command: string) => command,
      }),
      new UndiciInstrumentation({ requireParentforSpans: true }),
      new fastifyOtel.FastifyOtelInstrumentation({
        registerOnInitialization: true,
        instrumentHooks: false,
        instrumentHandler: false,
        ignorePaths: (r: { url: string }) => /^\/(metrics|health\/)/.test(r.url),
      }),
    ],
  });
  sdk.start();
  return {
    async shutdown() {
      await sdk.shutdown();
    },
  };
}

/** Attributes that may hold a URL: the query string (search parameters: identifiers) is removed. */
const URL_KEYS = ['url.full', 'url.path', 'http.url', 'http.target', 'url.original'];

/**
 * Runs first on every ended span, before any exporter sees it: URLs lose their query string
 * (`/fhir/Patient?identifier=…`, `/lineage?controlId=…`), `url.query` is dropped, exception events
 * keep their type only and a status keeps no message (error texts may quote the data that caused
 * them). The gateway's own spans carry no PHI to begin with (tracing.ts); this covers the
 * instrumentations'.
 */
export function phiScrubber(): tracing.SpanProcessor {
  return {
    onStart(_span: tracing.Span, _ctx: Context) {},
    onEnd(span: tracing.ReadableSpan) {
      const attrs = span.attributes as Attributes;
      for (const k of URL_KEYS) {
        const v = attrs[k];
        if (typeof v === 'string' && v.includes('?')) attrs[k] = v.slice(0, v.indexOf('?'));
      }
      delete attrs['url.query'];
      for (const e of span.events) {
        if (!e.attributes) continue;
        const type = e.attributes['exception.type'];
        for (const k of Object.keys(e.attributes)) delete (e.attributes as Attributes)[k];
        if (type !== undefined) (e.attributes as Attributes)['exception.type'] = type;
      }
      if (span.status.message)
        (span as { status: tracing.ReadableSpan['status'] }).status = { code: span.status.code };
    },
    async forceFlush() {},
    async shutdown() {},
  };
}
