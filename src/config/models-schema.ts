import { z } from 'zod';

/** Governed models (issue 5): micro-batching, remote V2 endpoints, scheduled re-scoring. */
export const modelsSchema = z
  .object({
    /** How often each process re-reads the aliases (a move reaches every process within this). */
    refreshMs: z.number().int().min(50).default(2000),
    /** Dynamic micro-batching per model version, as Triton's dynamic_batching. */
    batching: z
      .object({
        maxBatchSize: z.number().int().min(1).max(4096).default(64),
        maxQueueDelayMs: z.number().min(0).max(1000).default(0),
        /** Requests waiting per model version; beyond it, back-pressure (the message waits). */
        maxQueue: z.number().int().min(1).default(10_000),
        /** A request not started within this is refused (and the message retried). */
        deadlineMs: z.number().int().min(1).default(5000),
      })
      .strict()
      .prefault({}),
    /**
     * Stream batches run on an inference thread per model version (its own onnxruntime
     * session), overlapping the event loop; false: on the event loop.
     */
    inferenceThread: z.boolean().default(true),
    /** onnxruntime intra-op threads per session (0: onnxruntime's default, one per core). */
    intraOpThreads: z.number().int().min(0).max(256).default(1),
    /** Models of kind `remote` (Open Inference Protocol / KServe V2 endpoints). */
    remote: z
      .object({
        timeoutMs: z.number().int().min(10).default(5000),
        /** Bearer token by endpoint origin, e.g. { "http://triton:8000": "..." }. */
        tokens: z.record(z.string(), z.string()).default({}),
      })
      .strict()
      .prefault({}),
    /** Scheduled re-scoring of every active patient's feature state, per model. */
    rescore: z
      .object({
        /** Every this many ms (e.g. 900000 = 15 minutes); 0 = off. */
        intervalMs: z.number().int().min(0).default(0),
        /** Patients whose feature state changed within this are active. */
        activeWithinMs: z
          .number()
          .int()
          .min(1000)
          .default(24 * 3600_000),
        /** Patients per mini-batch job (one session.run each). */
        groupSize: z.number().int().min(1).max(10_000).default(1024),
        /** Mini-batch jobs run at once per process. */
        concurrency: z.number().int().min(1).max(64).default(2),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});
