import type { Gateway } from './app.js';
import { ConfigError, loadConfig } from './config/load.js';
import { createLogger } from './observability/logger.js';
import { startTracingIfRequested } from './observability/otel-start.js';
import { startWorkerChild, WORKER_CHILD_ENV } from './worker-child.js';

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
  // Role `all` on PostgreSQL may run its processing in a worker child (processing.workerProcess).
  const forks = config.role === 'all' && !!config.databaseUrl && config.processing.workerProcess;
  let worker: { stop(): Promise<void> } | undefined;
  try {
    const { startGateway } = await import('./app.js');
    gateway = await startGateway(forks ? { ...config, role: 'intake' } : config, { logger });
    if (forks) worker = startWorkerChild(logger);
  } catch (err) {
    // The stable code first (MODEL_INTEGRITY, GW_MAPPING_INVALID, GW_DATA_DIR_LOCKED…), so an operator can search for it.
    const code = (err as { code?: unknown } | null)?.code;
    const text = `${typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code) ? `${code}: ` : ''}${
      err instanceof Error ? err.message : String(err)
    }`;
    logger.fatal({ err: text, ...(typeof code === 'string' ? { code } : {}) }, 'start-up failed');
    process.stderr.write(`gateway could not start: ${text}\n`);
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
    await worker?.stop();
    await tracing?.shutdown().catch(() => {});
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // SIGHUP: from a terminal it is the hang-up, and the gateway stops; to a service (a container,
  // systemd: no terminal) it is the reload signal, and tokensFile is read again now (it is also
  // re-read whenever it changes).
  process.on('SIGHUP', () => {
    if (process.stdout.isTTY) return void stop('SIGHUP');
    logger.info({ reloaded: gateway.reloadTokens() }, 'SIGHUP: tokens file read again');
  });
  watchParent(() => void stop('parent exited'));
}

/**
 * Under `npm start` / `npx gateway serve` the gateway runs as npm -> sh -c -> node; npm passes a
 * SIGTERM on to the shell, which dies of it without passing it on, leaving node running on both
 * ports. So a gateway started by npm stops when the process that started it is gone.
 */
function watchParent(stop: () => void): void {
  // A worker child of role `all` (src/worker-child.ts) stops with its parent too.
  if (!process.env.npm_lifecycle_event && !process.env.npm_command && !process.env[WORKER_CHILD_ENV]) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      stop();
    }
  }, 250);
  timer.unref();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await serve();
}
