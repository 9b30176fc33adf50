import { Client } from 'fhir-kit-client';
import { GatewayError } from '../errors/codes.js';
import { retryForStatus } from '../errors/retry.js';
import type { Bundle, Resource } from '../fhir/types.js';
import type { SigningKey } from './keys.js';
import { createTokenProvider, type TokenProvider } from './smart.js';

/**
 * A source FHIR server (the EHR that sends subscription notifications): reads and searches with
 * fhir-kit-client, authorized by SMART Backend Services (or a static bearer token). A 401 drops
 * the cached token and the request is tried once more with a new one.
 */

export interface SourceConfig {
  name: string;
  baseUrl: string;
  bearerToken?: string | undefined;
  smart?: { tokenUrl: string; clientId: string; scope: string } | undefined;
  timeoutMs: number;
}

/** GW_SOURCE_FAILED: `status` is the source server's (0: no answer); a 4xx refusal is never retried. */
export class SourceError extends GatewayError {
  override name = 'SourceError';
  constructor(message: string, status: number) {
    super('GW_SOURCE_FAILED', { status, retry: retryForStatus(status) }, message);
  }
}

export interface SourceClient {
  readonly name: string;
  readonly baseUrl: string;
  readonly tokens?: TokenProvider;
  /** Reads `Type/id` (or an absolute URL on this server). */
  read(reference: string): Promise<Resource>;
  search(type: string, params: Record<string, string>): Promise<Bundle>;
  /** Whether a searchset has a `next` link. */
  hasNextPage(bundle: Bundle): boolean;
  /** The page its `next` link points at (same authorization); undefined on the last page. */
  nextPage(bundle: Bundle): Promise<Bundle | undefined>;
  create(resource: Resource): Promise<Resource>;
  /** `Type/id` of a reference relative to this server; undefined when it points elsewhere. */
  relative(reference: string): string | undefined;
  /** The absolute URL of `Type/id` on this server (what derivedFrom and Provenance cite). */
  absolute(reference: string): string;
}

export function createSourceClient(cfg: SourceConfig, key?: SigningKey): SourceClient {
  const baseUrl = cfg.baseUrl.replace(/\/+$/, '');
  const tokens =
    cfg.smart && key ? createTokenProvider({ ...cfg.smart, key, timeoutMs: cfg.timeoutMs }) : undefined;
  if (cfg.smart && !key) throw new Error(`source ${cfg.name}: SMART auth needs a signing key`);

  async function call<T>(what: string, fn: (c: Client) => Promise<unknown>, retried = false): Promise<T> {
    const token = tokens ? await tokens.token() : cfg.bearerToken;
    const client = new Client({ baseUrl, ...(token ? { bearerToken: token } : {}) });
    try {
      return (await fn(client)) as T;
    } catch (err) {
      const status = (err as { response?: { status?: number } }).response?.status ?? 0;
      if (status === 401 && tokens && !retried) {
        tokens.invalidate();
        return call(what, fn, true);
      }
      const e = err as { name?: string; message?: string };
      const why = status
        ? `HTTP ${status}`
        : e.name === 'TimeoutError'
          ? 'timed out'
          : (e.message ?? 'failed');
      throw new SourceError(`source ${cfg.name}: ${what} failed: ${why}`, status);
    }
  }
  const options = () => ({ signal: AbortSignal.timeout(cfg.timeoutMs) });

  function relative(reference: string): string | undefined {
    let ref = reference;
    if (/^https?:\/\//.test(ref)) {
      if (!ref.startsWith(`${baseUrl}/`)) return undefined;
      ref = ref.slice(baseUrl.length + 1);
    }
    const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(ref);
    return m ? `${m[1]}/${m[2]}` : undefined;
  }

  return {
    name: cfg.name,
    baseUrl,
    ...(tokens ? { tokens } : {}),
    relative,
    absolute: (reference) => `${baseUrl}/${relative(reference) ?? reference}`,
    read(reference) {
      const rel = relative(reference);
      if (!rel) throw new SourceError(`source ${cfg.name}: reference is not on this server`, 0);
      const [resourceType, id] = rel.split('/') as [string, string];
      return call(`read ${resourceType}`, (c) => c.read({ resourceType, id, options: options() }));
    },
    search: (type, params) =>
      call(`search ${type}`, (c) =>
        c.search({ resourceType: type, searchParams: params, options: options() }),
      ),
    hasNextPage: (bundle) => !!bundle.link?.some((l) => l.relation === 'next'),
    async nextPage(bundle) {
      if (!bundle.link?.some((l) => l.relation === 'next')) return undefined;
      return call<Bundle>('search (next page)', async (c) =>
        c.nextPage({ bundle: bundle as never, options: options() }),
      );
    },
    create: (resource) =>
      call(`create ${resource.resourceType}`, (c) =>
        c.create({ resourceType: resource.resourceType, body: resource as never, options: options() }),
      ),
  };
}
