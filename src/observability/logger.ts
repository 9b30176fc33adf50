import pino, { type Logger } from 'pino';
import { activeTraceIds } from './tracing.js';

export type { Logger };

/**
 * Structured JSON logs. Callers log ids (gateway message id, trace id, model name) and counts,
 * never a message body, a value of a patient or an identifier of one. As a second line of defence
 * the keys that could carry such data are redacted wherever they appear. A line written while a
 * span is active carries its `trace_id`, `span_id` and `trace_flags` (tracing on: OTEL_* variables).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'ml-gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'raw',
          'body',
          'patient',
          'identifier',
          'mrn',
          '*.raw',
          '*.body',
          '*.patient',
          '*.identifier',
        ],
        censor: '[redacted]',
      },
      formatters: { level: (label) => ({ level: label }) },
      mixin: () => activeTraceIds() ?? {},
    },
    destination,
  );
}

/** A description of an error that is safe to log: its name, code and message, no causes with data. */
export function errorInfo(err: unknown): { name: string; code?: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: err.message.slice(0, 500),
    };
  }
  return { name: 'Error', message: String(err).slice(0, 500) };
}
