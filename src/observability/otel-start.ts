import type { Tracing } from './otel-sdk.js';
/**
 * Whether the standard OpenTelemetry variables ask for traces, decided without loading the SDK:
 * with none of them set the gateway never imports it (no cost, no hooks). Asked for by
 * OTEL_TRACES_EXPORTER (otlp, console, zipkin; `none` is off), or by an OTLP endpoint alone
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, exporter otlp);
 * OTEL_SDK_DISABLED=true turns it off whatever else is set.
 */
export function tracingRequested(env: Record<string, string | undefined>): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'null');
  if (exporters.length > 0) return exporters[0] !== 'none';
  return !!(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

// The type only: otel-sdk.ts itself loads when tracing is asked for (the import() below).
export type { Tracing };

/**
 * Starts the SDK when asked for (see tracingRequested), before the modules it instruments are
 * loaded: call it first, then import the app. Undefined when tracing is off.
 */
export async function startTracingIfRequested(
  env: Record<string, string | undefined> = process.env,
): Promise<Tracing | undefined> {
  if (!tracingRequested(env)) return undefined;
  const { startTracing } = await import('./otel-sdk.js');
  return startTracing(env);
}
