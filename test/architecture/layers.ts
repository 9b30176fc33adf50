// The flow of src/ as data: ordered layers of folders, lowest first. A file may import a file of
// its own folder or of a LOWER layer, never of a higher one nor of another folder in its own layer.
// docs/architecture.md shows this table; test/architecture/imports.test.ts enforces it and checks
// that the document still matches.

export interface Layer {
  name: string;
  /** Folders (relative to src/) or single files; a file belongs to the longest match. */
  folders: string[];
  why: string;
}

export const LAYERS: Layer[] = [
  { name: 'errors', folders: ['errors'], why: 'the error type and its code table; imports nothing of ours' },
  {
    name: 'foundation',
    folders: ['security', 'observability'],
    why: 'auth scopes, ciphers, logger, metrics, tracing: every stage uses them',
  },
  { name: 'config, db', folders: ['config', 'db'], why: 'the validated config; the pool and migrations' },
  {
    name: 'formats',
    folders: ['hl7', 'fhir'],
    why: 'pure HL7 v2 parsing; pure FHIR types, validation, outcomes, input and notification parsing',
  },
  {
    name: 'transport',
    folders: ['mllp', 'queue', 'sources'],
    why: 'the MLLP codec, client and TLS; the queues; clients of FHIR source servers',
  },
  {
    name: 'stores and rules',
    folders: ['lineage', 'fhir-server', 'acks'],
    why: 'the audit chain, the embedded FHIR server, ACK rules: the inbox writes lineage, so they sit below it',
  },
  { name: 'inbox', folders: ['inbox'], why: 'every accepted message, stored before its ACK' },
  {
    name: 'normalize',
    folders: ['normalize'],
    why: 'HL7 v2 and FHIR to one clinical event; below intake because the FHIR door groups an input by patient (normalize/fhir/grouping) before it stores it',
  },
  {
    name: 'intake',
    folders: ['intake'],
    why: 'the doors: MLLP listener, HTTP routes, FHIR receive and subscriptions',
  },
  { name: 'features', folders: ['features'], why: 'mappings, units, feature state' },
  { name: 'models/registry', folders: ['models/registry'], why: 'cards, governance, the registry store' },
  { name: 'models/runtime', folders: ['models/runtime'], why: 'loading, ONNX sessions, the micro-batcher' },
  { name: 'models/http', folders: ['models/http'], why: 'the model API routes' },
  { name: 'writeback/fhir', folders: ['writeback/fhir'], why: 'FHIR builders, the writer, its breaker' },
  {
    name: 'recovery',
    folders: ['recovery'],
    why: 'dead letters, replay, the sweeper: the pipeline records dead letters, so recovery sits below it',
  },
  { name: 'pipeline', folders: ['pipeline'], why: 'scoring a message and re-scoring' },
  {
    name: 'after the pipeline',
    folders: ['writeback/hl7', 'monitoring', 'retention'],
    why: 'finish hooks (ORU, application ACK, model monitoring) and pruning',
  },
  {
    name: 'read side',
    folders: ['messages', 'stats', 'console', 'http'],
    why: 'message search, overview, the console, the HTTP server',
  },
  { name: 'cli', folders: ['cli'], why: 'the command-line commands' },
  {
    name: 'services',
    folders: ['services'],
    why: 'the gateway as a list of services with init/close, each with its process roles',
  },
  {
    name: 'app',
    folders: ['app.ts'],
    why: 'wiring: the services started in order and stopped in mirror order',
  },
  {
    name: 'worker child',
    folders: ['worker-child.ts'],
    why: 'role all with processing.workerProcess: the worker-role child process serve starts',
  },
  { name: 'main', folders: ['main.ts'], why: 'start-up: config, then the app, then listen' },
  { name: 'cli entry', folders: ['cli.ts'], why: 'the `gateway` command, which can serve' },
];

/**
 * Imports against the flow that only a rewrite in progress elsewhere can remove. Each names the
 * edge (from -> to, relative to src/) and why it is allowed for now. Keep this list short.
 */
export const EXCEPTIONS: { from: string; to: string; why: string }[] = [];

/** The folder (layer entry) a file belongs to, or null when none matches. */
export function unitOf(file: string): { unit: string; layer: number } | null {
  let best: { unit: string; layer: number } | null = null;
  LAYERS.forEach((layer, index) => {
    for (const folder of layer.folders) {
      const matches = file === folder || file.startsWith(`${folder}/`);
      if (matches && (!best || folder.length > best.unit.length)) best = { unit: folder, layer: index };
    }
  });
  return best;
}

/** The edges that go against the flow (into a higher layer or a sibling folder), exceptions aside. */
export function againstFlow(
  edges: ReadonlyArray<{ from: string; to: string }>,
  exceptions: ReadonlyArray<{ from: string; to: string }> = EXCEPTIONS,
): Array<{ from: string; to: string; why: string }> {
  const out: Array<{ from: string; to: string; why: string }> = [];
  for (const e of edges) {
    const from = unitOf(e.from);
    const to = unitOf(e.to);
    if (!from || !to || from.unit === to.unit || to.layer < from.layer) continue;
    if (exceptions.some((x) => x.from === e.from && x.to === e.to)) continue;
    const where = to.layer === from.layer ? 'a sibling in its own layer' : 'a higher layer';
    out.push({ ...e, why: `${from.unit} (${LAYERS[from.layer]!.name}) imports ${where}, ${to.unit}` });
  }
  return out;
}
