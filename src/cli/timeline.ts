import type { LineageRecord } from '../lineage/store.js';

type Stage = LineageRecord['stages'][number];

const short = (v: unknown) => (typeof v === 'object' ? JSON.stringify(v) : String(v));

/** What one stage did, in a few words: the outputs of `written`, who asked for `replayed`... */
function describe(s: Stage): string {
  const { stage, at: _at, seq: _seq, hash: _hash, ...d } = s;
  switch (stage) {
    case 'received':
      return `${d.channel ?? ''} ${d.messageType ?? ''} ${d.bytes ?? '?'} bytes`.trim();
    case 'written': {
      const outs = (Array.isArray(d.outputs) ? d.outputs : []) as Array<Record<string, unknown>>;
      return outs
        .map((o) => `${o.resource} (${o.model}@${o.modelVersion}; ${o.provenance ?? 'no provenance'})`)
        .join(', ');
    }
    case 'replayed':
      return `by ${d.by ?? '?'}, was ${d.previousStatus ?? '?'}  (replay ${String(d.replayId ?? '').slice(0, 8)})`;
    case 'failed':
      return `${d.during ? `during ${d.during}${d.model ? ` (${d.model})` : ''}: ` : ''}${d.reason ?? ''}`;
    case 'pruned':
      return `raw message pruned after ${d.retentionDays ?? '?'} days; hash and lineage kept`;
    case 'inferred':
      return `${d.model}@${d.modelVersion} score=${typeof d.score === 'number' ? d.score.toFixed(4) : d.score}${
        d.interpretation ? ` ${d.interpretation}` : ''
      }`;
    default:
      return Object.entries(d)
        .map(([k, v]) => `${k}=${short(v)}`)
        .join(' ');
  }
}

/** A lineage record as a readable timeline: one line a stage, with its time and what it did. */
export function formatTimeline(r: LineageRecord): string {
  const lines = [
    `message ${r.messageId}  (${r.status})`,
    `  source   ${r.source.channel}  MSH-10 ${r.source.controlId}  ${r.source.messageType ?? ''}  sha256 ${r.source.sha256}`,
  ];
  const t0 = Date.parse(r.stages[0]?.at ?? r.source.receivedAt);
  for (const s of r.stages) {
    const dt = Date.parse(s.at) - t0;
    lines.push(`  ${s.at}  +${String(dt).padStart(5)} ms  ${s.stage.padEnd(9)} ${describe(s)}`);
  }
  const seen = new Set<string>();
  for (const o of r.outputs) {
    // A replay writes the same resource again (idempotent): list each once.
    if (seen.has(o.resource)) continue;
    seen.add(o.resource);
    lines.push(
      `  output   ${o.resource}  model ${o.model}@${o.modelVersion} (sha256 ${o.modelSha256.slice(0, 12)}…)  mapping ${o.mappingVersion}`,
    );
  }
  return lines.join('\n');
}
