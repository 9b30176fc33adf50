import { z } from 'zod';
import { ALL_SCOPES, MODEL_SCOPE, type ModelScope } from '../security/auth.js';
import { parseKey } from '../security/raw-cipher.js';
import { httpSchema, SHA256_HEX, tlsFilesSchema, uniqueNames } from './http-schema.js';
import { modelsSchema } from './models-schema.js';
import { monitoringSchema } from './monitoring-schema.js';

const port = z.number().int().min(0).max(65535);

/** A base64 AES-256 key: must decode to exactly 32 bytes. */
const aesKey = z.string().superRefine((v, ctx) => {
  try {
    parseKey('k', v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message.replace("'k' ", '') });
  }
});
const keyId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 of A-Z a-z 0-9 . _ -');

/** A bearer token with scopes: the token itself or its SHA-256 (hex), not both. */
export const scopedToken = z
  .object({
    name: z.string().min(1).max(64),
    token: z.string().min(16).optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'lowercase hex SHA-256 of the token')
      .optional(),
    scopes: z
      .array(
        z.union([
          z.enum(ALL_SCOPES),
          z
            .string()
            .regex(MODEL_SCOPE, 'a scope, or model:<name|*>:<infer|read|approve|admin>')
            .transform((s) => s as ModelScope),
        ]),
      )
      .min(1),
  })
  .strict()
  .refine((t) => (t.token === undefined) !== (t.sha256 === undefined), 'give exactly one of token or sha256');

/** An MLLP destination (ORU results, application ACKs): where, how long to wait, how hard to retry. */
const mllpDestination = {
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 of A-Z a-z 0-9 . _ -'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  timeoutMs: z.number().int().min(100).default(10_000),
  maxAttempts: z.number().int().min(1).default(10),
  backoffMs: z.number().int().min(1).default(1000),
  maxBackoffMs: z.number().int().min(1).default(60_000),
  tls: z
    .object({
      ca: z.string().optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
      servername: z.string().optional(),
      rejectUnauthorized: z.boolean().default(true),
    })
    .strict()
    .optional(),
};

/** The gateway's whole configuration. Every key has a default: an empty file is a valid file. */
export const configSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    dataDir: z.string().min(1).default('./data'),
    databaseUrl: z.string().url().optional(),
    redisUrl: z.string().url().optional(),
    /**
     * What this process runs (GATEWAY_ROLE): `intake` the doors and the inbox (messages stored and
     * queued, not processed), `worker` the processing (pipeline, write-back, egress, re-scoring) and
     * no doors, `all` both in one process (the only role on PGlite, the embedded database being one
     * process's). On PostgreSQL run one `intake` and one or more `worker` processes so that ACKs
     * never wait for scoring on a shared event loop (README, Running it in production).
     */
    role: z.enum(['all', 'intake', 'worker']).default('all'),
    adminToken: z.string().min(16).optional(),
    /** The admin token given as its SHA-256 (hex) only (GATEWAY_ADMIN_TOKEN_SHA256). */
    adminTokenSha256: z.string().regex(SHA256_HEX, 'lowercase hex SHA-256 of the token').optional(),
    /** Scoped tokens (hashes only) in a file of their own, re-read when it changes and on SIGHUP. */
    tokensFile: z.string().min(1).optional(),
    /** PostgreSQL schema for every table (created if missing); unset = the connection's default. */
    databaseSchema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/)
      .optional(),
    /** Extra bearer tokens with their scopes (the admin token has every scope). */
    tokens: z.array(scopedToken).default([]),
    /** Raw message bodies at rest (AES-256-GCM). Without `key` they are stored in clear. */
    encryption: z
      .object({
        keyId: keyId.default('k1'),
        key: aesKey.optional(),
        /** Older keys, by id, still accepted for reading after a rotation. */
        previousKeys: z.record(keyId, aesKey).default({}),
      })
      .strict()
      .prefault({}),
    /** The lineage chain: shards writers append to at once, and checkpoints over their heads. */
    lineage: z
      .object({
        shards: z.number().int().min(1).max(1024).default(16),
        checkpointEvery: z.number().int().min(1).default(1000),
        checkpointSeconds: z.number().min(0).default(10),
      })
      .strict()
      .prefault({}),
    /** Raw bodies older than this many days are pruned (hashes and lineage stay); 0 = keep. */
    retention: z
      .object({
        rawMessageDays: z.number().min(0).default(0),
        pruneIntervalMs: z
          .number()
          .int()
          .min(1000)
          .default(60 * 60_000),
      })
      .strict()
      .prefault({}),
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
        /** Connections at once from one source address; 0 = only maxConnections applies. */
        maxConnectionsPerAddress: z.number().int().min(0).default(0),
        /** Source addresses or CIDR ranges allowed to connect (`10.0.0.0/8`, `::1`); empty = any. */
        allowAddresses: z
          .array(z.string().regex(/^[0-9a-fA-F.:]+(\/\d{1,3})?$/, 'an IP address or CIDR range'))
          .default([]),
        /** Senders allowed, on MSH-3|MSH-4 (`LAB|HOSP`, `LAB` = any facility, `*` wildcards); empty = any. */
        allowSenders: z.array(z.string().min(1)).default([]),
        /** How long shutdown lets frames already received finish before closing connections. */
        shutdownGraceMs: z.number().int().min(0).default(10_000),
        /** Built-in TLS: PEM paths, re-read when they change (no restart). */
        tls: tlsFilesSchema.optional(),
      })
      .strict()
      .prefault({}),
    http: httpSchema,
    inbox: z
      .object({
        /** Group commit: at most this many messages per transaction... */
        maxBatch: z.number().int().min(1).max(10_000).default(256),
        /** ...gathered for at most this long (unset: 0 on PostgreSQL, 2 on PGlite, the fastest for each). */
        maxDelayMs: z.number().min(0).max(1000).optional(),
        /** Messages accepted but not yet processed; beyond this, new ones get AE. */
        maxPending: z.number().int().min(1).default(100_000),
      })
      .strict()
      .prefault({}),
    /** ACKs as Mirth users configure them. */
    ack: z
      .object({
        /** auto: enhanced mode (CA/CE/CR commit ACKs) when the sender fills MSH-15/MSH-16. */
        mode: z.enum(['auto', 'original', 'enhanced']).default('auto'),
        /** stored: AA once durably stored; processed: AA/AE once the pipeline finished the message. */
        timing: z.enum(['stored', 'processed']).default('stored'),
        processedTimeoutMs: z.number().int().min(100).default(30_000),
        /** Accepted MSH-11 processing ids (P, T, D); empty = any. Others get AR, ERR 202. */
        processingIds: z.array(z.string().min(1)).default([]),
        /** Batches: one ACK per message, or one batch ACK (FHS/BHS … BTS/FTS). */
        batch: z.enum(['per-message', 'batch']).default('per-message'),
        /** Enhanced mode: where application ACKs (MSH-16) go once a message is processed. */
        applicationAck: z
          .object({
            destinations: z
              .array(
                z
                  .object({
                    ...mllpDestination,
                    /** Original senders (MSH-3|MSH-4 patterns as mllp.allowSenders) sent here; empty = any. */
                    senders: z.array(z.string().min(1)).default([]),
                  })
                  .strict(),
              )
              .refine(uniqueNames, 'destination names must be unique')
              .default([]),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Model results sent back as ORU^R01 over MLLP (to Mirth or any engine). */
    egress: z
      .object({
        oru: z
          .object({
            destinations: z
              .array(
                z
                  .object({
                    ...mllpDestination,
                    receivingApplication: z.string().default(''),
                    receivingFacility: z.string().default(''),
                  })
                  .strict(),
              )
              .refine(uniqueNames, 'destination names must be unique')
              .default([]),
            /** MSH-3/MSH-4 of the results we send. */
            sendingApplication: z.string().min(1).default('ML-GATEWAY'),
            sendingFacility: z.string().default(''),
            /** MSH-11 of the results. */
            processingId: z.string().min(1).default('P'),
          })
          .strict()
          .prefault({}),
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
        /** Opens after this many transient failures in a row: messages wait instead of failing. */
        circuitBreaker: z
          .object({
            failureThreshold: z.number().int().min(1).default(5),
            /** Open this long before one probe write is let through (half-open). */
            cooldownMs: z.number().int().min(10).default(30_000),
          })
          .strict()
          .prefault({}),
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
    /** Source FHIR servers (EHRs) whose subscription notifications are received and followed up. */
    sources: z
      .array(
        z
          .object({
            name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 of A-Z a-z 0-9 . _ -'),
            baseUrl: z.string().url(),
            /** A static token instead of SMART Backend Services. */
            bearerToken: z.string().optional(),
            /** SMART Backend Services: client credentials with a private_key_jwt assertion. */
            smart: z
              .object({
                tokenUrl: z.string().url(),
                clientId: z.string().min(1),
                scope: z.string().min(1).default('system/*.read'),
              })
              .strict()
              .optional(),
            timeoutMs: z.number().int().min(100).default(15_000),
          })
          .strict(),
      )
      .default([]),
    /** The key that signs SMART client assertions; unset file: DATA_DIR/smart-key.pem, made at first start. */
    smart: z
      .object({
        privateKeyFile: z.string().min(1).optional(),
        alg: z.enum(['RS384', 'ES384']).default('RS384'),
      })
      .strict()
      .prefault({}),
    /** FHIR subscriptions received at POST /ingest/fhir/subscription. */
    subscriptions: z
      .object({
        /** A heartbeat later than heartbeatPeriod x this factor raises an alert. */
        heartbeatGraceFactor: z.number().min(1).default(1.5),
        /** How often heartbeats are checked. */
        checkIntervalMs: z.number().int().min(50).default(10_000),
        /** `_count` of each catch-up search page (the source's `next` links are followed to the end). */
        catchUpPageSize: z.number().int().min(1).max(1000).default(1000),
        /** Pages one catch-up follows at most (a guard against a source whose links never end). */
        catchUpMaxPages: z.number().int().min(1).default(1000),
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
        /** First retry delay; doubled each attempt, with +-50 % jitter, up to maxBackoffMs. */
        backoffMs: z.number().int().min(1).default(500),
        maxBackoffMs: z.number().int().min(1).default(60_000),
        /** How often messages left `received` (a lost job, a database outage) are queued again. */
        sweepIntervalMs: z.number().int().min(100).default(30_000),
        /**
         * Role `all` on PostgreSQL under `gateway serve`: true runs the processing in a worker-role
         * child process (nice 10) and this one as the intake, so ACKs never wait for scoring on one
         * event loop. Off by default for now: the child's counters are on its own /metrics only.
         */
        workerProcess: z.boolean().default(false),
        /** Without Redis: how often a worker-role process looks for `received` messages to claim. */
        claimIntervalMs: z.number().int().min(10).default(100),
        /** Without Redis: a claimed message not finished after this long may be claimed by another worker. */
        claimLeaseMs: z.number().int().min(1000).default(30_000),
      })
      .strict()
      .prefault({}),
    /** Governed models (issue 5): micro-batching, remote V2 endpoints, scheduled re-scoring. */
    models: modelsSchema,
    /** Model monitoring (issue 13): drift, data quality, outcomes, alerts, retraining. */
    monitoring: monitoringSchema,
    /** /metrics: senders (MSH-3|MSH-4) with series of their own; any later one counts as "other". */
    metrics: z
      .object({ maxSenders: z.number().int().min(0).max(1000).default(50) })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.role !== 'all' && !c.databaseUrl)
      ctx.addIssue({
        code: 'custom',
        path: ['role'],
        message: `role '${c.role}' needs PostgreSQL (databaseUrl / DATABASE_URL): the embedded database is one process`,
      });
    if (c.adminToken && c.adminTokenSha256)
      ctx.addIssue({
        code: 'custom',
        path: ['adminTokenSha256'],
        message: 'give the admin token or its SHA-256, not both',
      });
    // The gateway writes to its embedded store over its own HTTP listener, as a client of it.
    if (c.http.tls && !c.fhir.baseUrl)
      ctx.addIssue({
        code: 'custom',
        path: ['http', 'tls'],
        message:
          'HTTPS needs an external FHIR server (fhir.baseUrl / FHIR_BASE_URL): the embedded store is for evaluation',
      });
  });

export type GatewayConfig = z.infer<typeof configSchema>;
