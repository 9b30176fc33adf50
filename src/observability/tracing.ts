import {
  type Attributes,
  type Context,
  context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

/**
 * Spans of the gateway, through the OpenTelemetry API. With no SDK registered (the default: see
 * src/observability/otel-sdk.ts, started only when the OTEL_* variables ask for it) every call here
 * is the API's no-op: no span is recorded, nothing is injected, nothing is stored.
 *
 * Attributes name things, never a patient: ids the gateway made, channel, message type, sender
 * application and facility, model name and version, counts. Never an MRN, a name or message text.
 */
const tracer = trace.getTracer('ml-gateway', '0.1.0');

export interface SpanOptions {
  kind?: SpanKind;
  /** Parent context (default: the active one). */
  parent?: Context;
  links?: Link[];
}

/** Runs fn inside a span named `gateway.<name>`, ended when fn settles; an error marks it failed. */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  opts: SpanOptions = {},
): Promise<T> {
  const parent = opts.parent ?? context.active();
  return tracer.startActiveSpan(
    `gateway.${name}`,
    {
      attributes,
      ...(opts.kind !== undefined ? { kind: opts.kind } : {}),
      ...(opts.links ? { links: opts.links } : {}),
    },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        failed(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** inSpan for synchronous work (validation). */
export function inSpanSync<T>(name: string, attributes: Attributes, fn: (span: Span) => T): T {
  return tracer.startActiveSpan(`gateway.${name}`, { attributes }, (span) => {
    try {
      return fn(span);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Error status with the error's name only: its message may quote the data that caused it. */
function failed(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
}

/**
 * The W3C `traceparent` of a context (the active one by default); undefined when tracing is off.
 * A span the sampler dropped still has one (flags 00): what continues it is dropped as well.
 */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  const span = trace.getSpan(ctx);
  if (!span || !trace.isSpanContextValid(span.spanContext())) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

/** The context a stored `traceparent` stands for (a new trace when there is none). */
export function contextFrom(traceparent: string | null | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

/** A link to the span of a stored `traceparent` (a group commit links every message it stored). */
export function linkTo(traceparent: string | undefined): Link | undefined {
  if (!traceparent) return undefined;
  const span = trace.getSpan(contextFrom(traceparent));
  return span ? { context: span.spanContext() } : undefined;
}

/** Runs fn with no active span: work for many messages must not join one message's trace. */
export function outsideTraces<T>(fn: () => T): T {
  return context.with(ROOT_CONTEXT, fn);
}

/** The ids of the active span, for log lines (empty when tracing is off or no span is active). */
export function activeTraceIds(): { trace_id: string; span_id: string; trace_flags: string } | undefined {
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const c = span.spanContext();
  if (!trace.isSpanContextValid(c)) return undefined;
  return { trace_id: c.traceId, span_id: c.spanId, trace_flags: `0${c.traceFlags.toString(16)}`.slice(-2) };
}

/** The trace id of the active span ('' when tracing is off). */
export function currentTraceId(): string {
  return activeTraceIds()?.trace_id ?? '';
}

export { SpanKind };
