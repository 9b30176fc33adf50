import type { Gateway } from './app.js';
import { ConfigError, loadConfig } from './config/load.js';
import { createLogger } from './observability/logger.js';
import { startTracingIfRequested } from './observability/otel-start.js';

/** `npm start` / `gateway serve`: load config, start, and stop cleanly on SIGINT/SIGTERM. */
export async function serve(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.log.level);
  // The OpenTelemetry SDK (when OTEL_* ask for it) starts before the app's modules load, so that
  // pg, ioredis and fastify are instrumented; the app is imported after it.
  const tracing = await startTracingIfRequested(process.env).catch((err: unknown) => {
    logger.error({ err: err instanceof Error ? err.message : String(err) }, 'tracing not started');
    return undefined;
  });
  if (tracing) logger.info({ exporter: process.env.OTEL_TRACES_EXPORTER ?? 'otlp' }, 'tracing on');
  let gateway: Gateway;
  try {
    const { startGateway } = await import('./app.js');
    gateway = await startGateway(config, { logger });
  } catch (err) {
    logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'start-up failed');
    process.stderr.write(`gateway could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  logger.info(
    {
      config: config.source,
      mllp: `${config.host}:${gateway.mllpPort}`,
      http: gateway.httpUrl,
      fhir: gateway.fhirBaseUrl,
      ...(gateway.adminTokenFile ? { adminTokenFile: gateway.adminTokenFile } : {}),
    },
    'gateway started',
  );
  if (gateway.adminTokenFile) {
    process.stderr.write(`admin token: ${gateway.adminTokenFile}\n`);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight work');
    await gateway.close();
    await tracing?.shutdown().catch(() => {});
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await serve();
}
