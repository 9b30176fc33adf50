import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

/** One span as an OTLP receiver sees it (ids in hex), with its resource's attributes. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  links: Array<{ traceId: string; spanId: string }>;
  /** Every string of the span: name, attribute values, event attributes, status message. */
  strings: string[];
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Content types of the requests received (application/json, application/x-protobuf). */
  contentTypes: Set<string>;
  close(): Promise<void>;
}

/**
 * The part of OTLP's trace protocol (opentelemetry-proto, trace/v1 and common/v1, Apache-2.0) that
 * a receiver needs to read spans; protobufjs skips the fields left out.
 */
const PROTO = `
syntax = "proto3";
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
  double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; } }
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; }
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
message Link { bytes trace_id = 1; bytes span_id = 2; }
message Status { string message = 2; int32 code = 3; }
message Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; int32 kind = 6;
  repeated KeyValue attributes = 9; repeated Event events = 11; repeated Link links = 13; Status status = 15; }
message ScopeSpans { repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
`;
const Request = protobuf.parse(PROTO, { keepCase: false }).root.lookupType('ExportTraceServiceRequest');

type Json = Record<string, unknown>;

/** OTLP/JSON and protobufjs's toObject agree on field names (camelCase); ids differ (hex, base64). */
function normalize(req: Json, idOf: (v: unknown) => string): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  const value = (v: Json | undefined): unknown => {
    if (!v) return undefined;
    if ('stringValue' in v) return v.stringValue;
    if ('boolValue' in v) return v.boolValue;
    if ('intValue' in v) return Number(v.intValue);
    if ('doubleValue' in v) return Number(v.doubleValue);
    if ('arrayValue' in v) return ((v.arrayValue as Json).values as Json[] | undefined)?.map(value) ?? [];
    return JSON.stringify(v);
  };
  const attrs = (list: unknown): Record<string, unknown> =>
    Object.fromEntries(((list as Json[] | undefined) ?? []).map((kv) => [kv.key, value(kv.value as Json)]));
  for (const rs of (req.resourceSpans as Json[] | undefined) ?? []) {
    const resource = attrs((rs.resource as Json | undefined)?.attributes);
    for (const ss of (rs.scopeSpans as Json[] | undefined) ?? []) {
      for (const s of (ss.spans as Json[] | undefined) ?? []) {
        const attributes = attrs(s.attributes);
        const events = ((s.events as Json[] | undefined) ?? []).map((e) => attrs(e.attributes));
        const strings = [
          String(s.name),
          ...[attributes, ...events].flatMap((a) => Object.values(a).map((v) => String(v))),
          String((s.status as Json | undefined)?.message ?? ''),
        ];
        out.push({
          traceId: idOf(s.traceId),
          spanId: idOf(s.spanId),
          parentSpanId: s.parentSpanId ? idOf(s.parentSpanId) : '',
          name: String(s.name),
          kind: Number(s.kind ?? 0),
          attributes,
          resource,
          links: ((s.links as Json[] | undefined) ?? []).map((l) => ({
            traceId: idOf(l.traceId),
            spanId: idOf(l.spanId),
          })),
          strings,
        });
      }
    }
  }
  return out;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

/** A real OTLP/HTTP trace receiver on a free port: POST /v1/traces, JSON or protobuf. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const server: Server = createServer((req, res) => {
    void (async () => {
      const type = String(req.headers['content-type'] ?? '').split(';')[0]!;
      const bytes = await body(req);
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      contentTypes.add(type);
      if (type === 'application/json') {
        spans.push(...normalize(JSON.parse(bytes.toString('utf8')) as Json, (v) => String(v ?? '')));
      } else {
        const decoded = Request.toObject(Request.decode(bytes), { longs: String, bytes: String }) as Json;
        spans.push(...normalize(decoded, (v) => Buffer.from(String(v ?? ''), 'base64').toString('hex')));
      }
      res.writeHead(200, { 'content-type': type }).end(type === 'application/json' ? '{}' : Buffer.alloc(0));
    })().catch(() => res.writeHead(400).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    contentTypes,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
