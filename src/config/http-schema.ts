import { z } from 'zod';

/** Built-in TLS from PEM files, re-read when they change (no restart): MLLP and HTTP. */
export const tlsFilesSchema = z
  .object({
    cert: z.string().min(1),
    key: z.string().min(1),
    ca: z.string().min(1).optional(),
    /** Mutual TLS: ask for a client certificate / refuse connections without a valid one. */
    requestClientCert: z.boolean().default(false),
    requireClientCert: z.boolean().default(false),
    reloadCheckMs: z.number().int().min(100).default(5000),
  })
  .strict()
  .refine((t) => !t.requireClientCert || !!t.ca, 'requireClientCert needs ca');

/** The HTTP API's listener: port, TLS, CORS and request body limits. */
export const httpSchema = z
  .object({
    port: z.number().int().min(0).max(65535).default(8080),
    /** Largest request body on any route, bytes. */
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024)
      .default(10 * 1024 * 1024),
    /** Per route, as registered (`/ingest/fhir`, `/models/:name/aliases/:alias`): a smaller or larger limit. */
    bodyLimits: z
      .record(z.string().regex(/^\//, 'a route path, e.g. /ingest/fhir'), z.number().int().min(64))
      .default({}),
    /** Token guessing slowed: failed authentications per client address and window, then 429. */
    authThrottle: z
      .object({
        /** Failures allowed per address and window (0: off). */
        maxFailures: z.number().int().min(0).default(20),
        windowMs: z.number().int().min(1000).default(60_000),
      })
      .strict()
      .prefault({}),
    /** HTTPS built in (otherwise terminate TLS in front). */
    tls: tlsFilesSchema.optional(),
    /** Cross-origin requests: none are allowed unless their origin is listed (exact `https://host[:port]`). */
    cors: z
      .object({
        origins: z
          .array(z.string().regex(/^https?:\/\/[^/]+$/, 'an origin: scheme://host[:port]'))
          .default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

/** A file of scoped tokens (`tokensFile`): hashes only, re-read on change and on SIGHUP. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Destinations and webhooks are keyed by name: one name, one destination. */
export const uniqueNames = (ds: ReadonlyArray<{ name: string }>) =>
  new Set(ds.map((d) => d.name)).size === ds.length;
