/** The JSON the console reads (the gateway's routes; see README "HTTP routes"). */
export interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface Overview {
  window: { from: string; to: string; minutes: number };
  perMinute: Array<{ minute: string; received: number; processed: number; ignored: number; failed: number }>;
  statuses: Record<string, number>;
  acks: { codes: Record<string, number>; latencySeconds: Percentiles };
  endToEndSeconds: Percentiles;
  backlog: {
    queued: number;
    unprocessed: number;
    oldestReceivedAt: string | null;
    oldestAgeSeconds: number | null;
  };
  senders: Array<{
    sender: string;
    received: number;
    processed: number;
    ignored: number;
    failed: number;
    pending: number;
    lastReceivedAt: string | null;
  }>;
  deadLetters: number;
  fhirCircuit: { state: string; transitions: Record<string, number> };
  fhirBaseUrl: string;
  egress: Array<{
    kind: string;
    destination: string;
    status: string;
    rows: number;
    oldestPendingAt: string | null;
  }>;
  models: Array<{
    model: string;
    version: string;
    batches: number;
    rows: number;
    batchSize: Percentiles;
    queueDelaySeconds: Percentiles;
  }>;
  inferSeconds: Percentiles;
}

export interface MessageRow {
  messageId: string;
  controlId: string;
  sender: string;
  channel: string;
  messageType: string | null;
  status: string;
  statusReason: string | null;
  receivedAt: string;
  finishedAt: string | null;
  replays: number;
  models: string[];
  rawAvailable: boolean;
  raw?: string | null;
  lineage: {
    stages: string[];
    last: { stage: string; at: string } | null;
    outputs: string[];
    reason: string | null;
    deadLetter: { stage: string; failedAt: string; resolvedAt: string | null } | null;
    views: number;
  };
}

export interface MessagePage {
  items: MessageRow[];
  nextCursor: string | null;
}

export interface LineageRecord {
  messageId: string;
  status: string;
  source: {
    channel: string;
    controlId: string;
    sender: string;
    messageType: string | null;
    sha256: string;
    receivedAt: string;
  };
  stages: Array<{ stage: string; at: string; seq: number; hash: string; [k: string]: unknown }>;
  outputs: Array<{
    model: string;
    modelVersion: string;
    modelSha256: string;
    mappingVersion: string;
    resource: string;
    [k: string]: unknown;
  }>;
}
