import { type Span, SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('ml-gateway', '0.1.0');

/**
 * Runs fn inside a span named `gateway.<stage>`. With no OpenTelemetry SDK registered this is the
 * API's no-op tracer; exporting is configured by whoever registers an SDK.
 */
export async function inSpan<T>(
  stage: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(`gateway.${stage}`, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The trace id of the active span, for log lines ('' when tracing is off). */
export function currentTraceId(): string {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && ctx.traceId !== '00000000000000000000000000000000' ? ctx.traceId : '';
}
