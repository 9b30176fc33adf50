/**
 * The gateway as a list of services (src/services/index.ts), each with `init` and `close`, started
 * in list order and stopped in mirror order from one place (startServices). Each service puts what
 * it makes on the shared Runtime for the services after it; a service reads only what the services
 * before it made.
 */
import type { Logger } from '../observability/logger.js';
import type { Runtime } from './runtime.js';

/** The process roles a service runs in (a process of role `all` runs every service). */
export type GatewayRole = 'intake' | 'worker';
export const BOTH: readonly GatewayRole[] = ['intake', 'worker'];

/**
 * What a role runs (config `role`, GATEWAY_ROLE): `intake` the doors (MLLP, POST /hl7, FHIR
 * ingest and subscriptions) and the inbox; `worker` the processing (pipeline, write-back, ORU and
 * application-ACK egress, re-scoring jobs, the sweeper); `all` both. Every role serves the HTTP API
 * (health, metrics, console, lineage, the embedded FHIR store the workers write to).
 */
export function roleRuns(role: GatewayRole | 'all'): { doors: boolean; processing: boolean } {
  return { doors: role !== 'worker', processing: role !== 'intake' };
}

export interface Service {
  name: string;
  roles: readonly GatewayRole[];
  init(rt: Runtime): Promise<void>;
  /** Called once, in mirror order, also when init failed part-way (close what was made). */
  close?(rt: Runtime): Promise<void>;
}

/**
 * Starts the services in order; answers the one close() that stops those started (or being
 * started) in mirror order, letting in-flight work finish. A failed start closes what it started.
 */
export async function startServices(
  services: readonly Service[],
  rt: Runtime,
  logger: Logger,
): Promise<() => Promise<void>> {
  const started: Service[] = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const s of started.reverse()) {
        const t0 = Date.now();
        await s
          .close?.(rt)
          .catch((err) => logger.error({ service: s.name, err: String(err) }, 'close failed'));
        logger.debug({ service: s.name, ms: Date.now() - t0 }, 'service closed');
      }
    })());
  try {
    for (const s of services) {
      started.push(s);
      await s.init(rt);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return close;
}
