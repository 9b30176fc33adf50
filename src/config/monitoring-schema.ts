import { z } from 'zod';
import { uniqueNames } from './http-schema.js';

/** An HTTP endpoint notified with JSON (Alertmanager webhook receivers, training pipelines). */
const webhook = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 of A-Z a-z 0-9 . _ -'),
    url: z.string().url(),
    headers: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export const monitoringSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** The live window: this many most recent inputs per model version. */
    windowSize: z.number().int().min(10).max(100_000).default(1000),
    /** No drift status or alert before a window (or a source's part of it) has this many. */
    minSamples: z.number().int().min(1).default(200),
    /** How often windows are evaluated, predictions labelled and alerts sent. */
    evaluateIntervalMs: z.number().int().min(50).default(60_000),
    /** Performance is computed over this many most recent labelled predictions per version. */
    performanceWindow: z.number().int().min(10).default(5000),
    /** No performance alert before this many labelled predictions. */
    minLabelled: z.number().int().min(1).default(100),
    outcomes: z
      .object({
        /** Outcome definitions (one YAML per model); unset: `outcomes/` in paths.mappings. */
        dir: z.string().min(1).optional(),
        /** Labelled this long after the horizon, so late messages still count. */
        graceMs: z.number().int().min(0).default(3_600_000),
      })
      .strict()
      .prefault({}),
    alerts: z
      .object({
        webhooks: z.array(webhook).refine(uniqueNames, 'webhook names must be unique').default([]),
        /** A resolved alert does not fire again before this long (flapping). */
        minIntervalMs: z.number().int().min(0).default(600_000),
        /** A firing alert is notified again after this long (Alertmanager repeat_interval). */
        repeatIntervalMs: z
          .number()
          .int()
          .min(1000)
          .default(4 * 3_600_000),
        maxAttempts: z.number().int().min(1).default(10),
        backoffMs: z.number().int().min(1).default(1000),
        timeoutMs: z.number().int().min(100).default(5000),
      })
      .strict()
      .prefault({}),
    retrain: z
      .object({
        /** Where `retrain-requested` is posted (MLflow, Azure ML, Airflow...). */
        webhooks: z.array(webhook).refine(uniqueNames, 'webhook names must be unique').default([]),
        /** A critical alert opens a retrain request (one open request per version at most). */
        onAlert: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});
