import { type Gateway, startGateway } from './app.js';
import { ConfigError, loadConfig } from './config/load.js';
import { createLogger } from './observability/logger.js';

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
  let gateway: Gateway;
  try {
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
    logger.info('stopped');
    process.exit(0);
  };
  // SIGHUP: read tokensFile again now (it is also re-read when it changes).
  process.on('SIGHUP', () => {
    logger.info({ reloaded: gateway.reloadTokens() }, 'SIGHUP: tokens file read again');
  });
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await serve();
}
