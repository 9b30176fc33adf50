/**
 * The gateway's services in start order (stopped in mirror order): what each makes is on the
 * Runtime (runtime.ts) for those after it. Stopping runs from the bottom up: stop taking work
 * (timers, MLLP, the doors), finish what is in flight (the queue drains the pipeline while the HTTP
 * server, and so the embedded FHIR store, still answers), then release what the work needed.
 */
import { http, listen } from './http.js';
import { doors, inbox, mllp } from './intake.js';
import { gauges, jobs } from './jobs.js';
import { models, monitoring } from './models.js';
import { egress, pipeline, queue, resume, scoring } from './processing.js';
import type { GatewayRole, Service } from './service.js';
import { dataDirLock, storage } from './storage.js';

export function gatewayServices(): Service[] {
  return [
    dataDirLock(),
    storage(),
    models(),
    http(),
    monitoring(),
    egress(),
    queue(),
    inbox(),
    doors(),
    listen(),
    pipeline(),
    scoring(),
    resume(),
    mllp(),
    jobs(),
    gauges(),
  ];
}

/** The services a process of a role runs (every one for a process that does both). */
export function servicesFor(role: GatewayRole | 'all', list = gatewayServices()): Service[] {
  return role === 'all' ? list : list.filter((s) => s.roles.includes(role));
}
