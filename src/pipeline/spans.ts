/**
 * One span per message for work a batch does once (a model call, the finishing transaction): each
 * message's trace shows the step it waited for, with the batch's size beside it. The work runs in
 * the first message's span, so the spans of the calls it makes (PostgreSQL, HTTP) go there.
 */
import { type Attributes, type Context, context, SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('ml-gateway', '0.1.0');

export async function inSpans<T>(
  name: string,
  parts: ReadonlyArray<{ ctx: Context | undefined; attributes: Attributes }>,
  fn: () => Promise<T>,
): Promise<T> {
  const spans = parts.map((p) =>
    tracer.startSpan(`gateway.${name}`, { attributes: p.attributes }, p.ctx ?? context.active()),
  );
  const first = spans[0];
  try {
    return await (first ? context.with(trace.setSpan(parts[0]!.ctx ?? context.active(), first), fn) : fn());
  } catch (err) {
    for (const s of spans)
      s.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
    throw err;
  } finally {
    for (const s of spans) s.end();
  }
}
