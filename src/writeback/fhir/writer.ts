import { Client } from 'fhir-kit-client';
import { GatewayError } from '../../errors/codes.js';
import { retryForStatus } from '../../errors/retry.js';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from '../../fhir/types.js';

export interface FhirWriterOptions {
  baseUrl: string;
  bearerToken?: string;
  /** Per request; default 15 s. */
  timeoutMs?: number;
}

/** `Type/id` of each resource a prediction transaction wrote. */
export interface WrittenPrediction {
  observation: string;
  provenance: string;
  device: string;
}

export interface FhirWriter {
  /** Posts a prediction transaction (buildPredictionTransaction) and answers the ids written. */
  write(bundle: Bundle): Promise<WrittenPrediction>;
  /**
   * Posts the prediction transactions of several messages as one transaction, an entry several
   * share (the model's Device or card, same PUT) once, and answers the ids each one wrote. All or
   * nothing: the caller writes them one by one when it fails.
   */
  writeMany(bundles: readonly Bundle[]): Promise<WrittenPrediction[]>;
  /** Posts any transaction or batch Bundle; answers the response Bundle. */
  transaction(bundle: Bundle): Promise<Bundle>;
  read(type: string, id: string): Promise<Resource>;
  search(type: string, params: Record<string, string>): Promise<Bundle>;
}

/** A failed FHIR request: HTTP status (0 when none came back) and the server's OperationOutcome. */
/** GW_FHIR_WRITE: `status` is the FHIR server's; its retry class follows it (a 4xx refusal: never). */
export class FhirWriteError extends GatewayError {
  constructor(
    message: string,
    status: number,
    readonly outcome?: OperationOutcome,
  ) {
    super('GW_FHIR_WRITE', { status, retry: retryForStatus(status) }, message);
    this.name = 'FhirWriteError';
  }
}

function outcomeText(o: OperationOutcome): string {
  return (o.issue ?? [])
    .map((i) => {
      const text = i.details?.text ?? i.diagnostics ?? i.code;
      return i.expression?.length ? `${text} (at ${i.expression.join(', ')})` : text;
    })
    .join('; ');
}

/** Wraps a fhir-kit-client error; only an OperationOutcome's text is kept, never a body. */
function wrapError(err: unknown, what: string): FhirWriteError {
  const e = err as { response?: { status?: number; data?: unknown }; name?: string; message?: string };
  const status = e.response?.status ?? 0;
  const data = e.response?.data as Resource | undefined;
  if (data && typeof data === 'object' && data.resourceType === 'OperationOutcome') {
    const o = data as OperationOutcome;
    return new FhirWriteError(`${what} failed: HTTP ${status}: ${outcomeText(o)}`, status, o);
  }
  if (status) return new FhirWriteError(`${what} failed: HTTP ${status}`, status);
  const reason =
    e.name === 'TimeoutError' || e.name === 'AbortError' ? 'timed out' : (e.message ?? 'network error');
  return new FhirWriteError(`${what} failed: ${reason}`, 0);
}

/** `Type/id` from a location such as `Observation/1/_history/2` or an absolute URL. */
export function locationRef(location: string | undefined): string | undefined {
  const m =
    location && /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?\/?$/.exec(location);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

/** The ids a prediction transaction wrote, from the location answered for each of its entries. */
function writtenBy(bundle: Bundle, locationOf: (entry: number) => string | undefined): WrittenPrediction {
  const refs = new Map<string, string>();
  (bundle.entry ?? []).forEach((e, i) => {
    const ref = locationRef(locationOf(i));
    if (e.resource && ref?.startsWith(`${e.resource.resourceType}/`)) refs.set(e.resource.resourceType, ref);
  });
  const observation = refs.get('Observation');
  const provenance = refs.get('Provenance');
  // A bundle may leave the Device out once it is known to be written (same model version).
  const obs = bundle.entry?.find((e) => e.resource?.resourceType === 'Observation')?.resource;
  const device = refs.get('Device') ?? (obs?.device as { reference?: string } | undefined)?.reference;
  if (!observation || !provenance || !device)
    throw new FhirWriteError(
      'FHIR transaction response lacks the location of Observation, Provenance or Device',
      0,
    );
  return { observation, provenance, device };
}

/** Writes prediction Bundles to a FHIR R4 server (the embedded store or an external one). */
export function createFhirWriter(opts: FhirWriterOptions): FhirWriter {
  const client = new Client({
    baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    ...(opts.bearerToken ? { bearerToken: opts.bearerToken } : {}),
  });
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const options = () => ({ signal: AbortSignal.timeout(timeoutMs) });
  const call = async <T>(what: string, fn: () => Promise<unknown>): Promise<T> => {
    try {
      return (await fn()) as T;
    } catch (err) {
      throw wrapError(err, what);
    }
  };

  const transaction = (bundle: Bundle) =>
    call<Bundle>(`FHIR ${bundle.type ?? 'transaction'}`, () =>
      client.transaction({ body: bundle as never, options: options() }),
    );

  return {
    transaction,
    async write(bundle) {
      const response = await transaction(bundle);
      return writtenBy(bundle, (i) => response.entry?.[i]?.response?.location);
    },
    async writeMany(bundles) {
      const entries: BundleEntry[] = [];
      const shared = new Map<string, number>();
      const at = bundles.map((b) =>
        (b.entry ?? []).map((e) => {
          const key = e.request?.method === 'PUT' ? `PUT ${e.request.url}` : undefined;
          const seen = key === undefined ? undefined : shared.get(key);
          if (seen !== undefined) return seen;
          entries.push(e);
          if (key !== undefined) shared.set(key, entries.length - 1);
          return entries.length - 1;
        }),
      );
      const response = await transaction({ resourceType: 'Bundle', type: 'transaction', entry: entries });
      return bundles.map((b, k) => writtenBy(b, (i) => response.entry?.[at[k]![i]!]?.response?.location));
    },
    read: (type, id) =>
      call<Resource>(`FHIR read ${type}`, () => client.read({ resourceType: type, id, options: options() })),
    search: (type, params) =>
      call<Bundle>(`FHIR search ${type}`, () =>
        client.search({ resourceType: type, searchParams: params, options: options() }),
      ),
  };
}
