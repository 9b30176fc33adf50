import type { LineageRecord } from '../lineage/store.js';

/** A lineage record as a readable timeline: one line a stage, with its time and what it did. */
export function formatTimeline(r: LineageRecord): string {
  const lines = [
    `message ${r.messageId}  (${r.status})`,
    `  source   ${r.source.channel}  MSH-10 ${r.source.controlId}  ${r.source.messageType ?? ''}  sha256 ${r.source.sha256}`,
  ];
  const t0 = Date.parse(r.stages[0]?.at ?? r.source.receivedAt);
  for (const s of r.stages) {
    const { stage, at, seq: _seq, hash: _hash, ...detail } = s;
    const dt = Date.parse(at) - t0;
    const info = Object.entries(detail)
      .filter(([k]) => k !== 'outputs')
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join(' ');
    lines.push(`  ${at}  +${String(dt).padStart(5)} ms  ${stage.padEnd(9)} ${info}`);
  }
  for (const o of r.outputs) {
    lines.push(
      `  output   ${o.resource}  model ${o.model}@${o.modelVersion} (sha256 ${o.modelSha256.slice(0, 12)}…)  mapping ${o.mappingVersion}`,
    );
  }
  return lines.join('\n');
}
