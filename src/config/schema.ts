import { z } from 'zod';

const port = z.number().int().min(0).max(65535);

/** The gateway's whole configuration. Every key has a default: an empty file is a valid file. */
export const configSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    dataDir: z.string().min(1).default('./data'),
    databaseUrl: z.string().url().optional(),
    redisUrl: z.string().url().optional(),
    adminToken: z.string().min(16).optional(),
    mllp: z
      .object({
        port: port.default(2575),
        /** Largest message accepted, in bytes; larger frames get AR with ERR code 100-series. */
        maxMessageBytes: z
          .number()
          .int()
          .min(1024)
          .default(1024 * 1024),
        maxConnections: z.number().int().min(1).default(500),
        /** A connection with no traffic for this long is closed. 0 disables. */
        idleTimeoutMs: z
          .number()
          .int()
          .min(0)
          .default(10 * 60_000),
        /** MSH-3/MSH-4 of our own ACKs (the receiving side). */
        application: z.string().min(1).default('ML-GATEWAY'),
        facility: z.string().default(''),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        port: port.default(8080),
        bodyLimitBytes: z
          .number()
          .int()
          .min(1024)
          .default(10 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    inbox: z
      .object({
        /** Group commit: at most this many messages per transaction... */
        maxBatch: z.number().int().min(1).max(10_000).default(256),
        /** ...gathered for at most this long while a commit is already running. */
        maxDelayMs: z.number().min(0).max(1000).default(2),
        /** Messages accepted but not yet processed; beyond this, new ones get AE. */
        maxPending: z.number().int().min(1).default(100_000),
      })
      .strict()
      .prefault({}),
    fhir: z
      .object({
        /** Where results are written; unset = the embedded store at http://HOST:HTTP_PORT/fhir. */
        baseUrl: z.string().url().optional(),
        /** Bearer token for baseUrl when it is an external server. */
        bearerToken: z.string().optional(),
        timeoutMs: z.number().int().min(100).default(15_000),
      })
      .strict()
      .prefault({}),
    hl7: z
      .object({
        /** Offset for HL7 timestamps that carry none, e.g. '+00:00' or '-05:00'. */
        defaultTimezone: z
          .string()
          .regex(/^[+-]\d{2}:\d{2}$/)
          .default('+00:00'),
      })
      .strict()
      .prefault({}),
    patients: z
      .object({
        /** HL7 assigning authority (PID-3.4) -> FHIR identifier system. */
        identifierSystems: z.record(z.string(), z.string()).default({}),
        /** System for authorities not listed; the authority is appended. */
        defaultSystemPrefix: z.string().default('urn:ml-gateway:patient-id:'),
      })
      .strict()
      .prefault({}),
    paths: z
      .object({
        mappings: z.string().default('./mappings'),
        models: z.string().default('./models'),
        profiles: z.string().default('./fhir-profiles'),
      })
      .strict()
      .prefault({}),
    processing: z
      .object({
        /** Messages processed at once. */
        concurrency: z.number().int().min(1).max(256).default(8),
        /** Attempts before a message is marked failed. */
        maxAttempts: z.number().int().min(1).max(100).default(5),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type GatewayConfig = z.infer<typeof configSchema>;
