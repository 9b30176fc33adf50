import { readFileSync } from 'node:fs';

/**
 * Summarises a V8 .cpuprofile (node --cpu-prof, or the inspector's Profiler.stop): self time by
 * package (node_modules/<pkg>, src/<folder>, node: internals, GC, idle) and by project stage (the
 * innermost src/<folder> on each sample's stack, so time in pg or @medplum called from the
 * lineage store counts as lineage). `node --import tsx scripts/profile-summary.ts FILE [messages]`.
 */
interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  /** Sampled milliseconds (idle excluded). */
  busyMs: number;
  idleMs: number;
  byPackage: Array<[string, number]>;
  byStage: Array<[string, number]>;
  /** Samples with the folder anywhere on the stack (synchronous callers only). */
  inclusive: Array<[string, number]>;
}

/** `node_modules/@medplum/core/...` -> `@medplum/core`; `src/lineage/store.ts` -> `src/lineage`. */
export function packageOf(frame: CallFrame): string {
  const url = frame.url;
  if (!url) {
    const n = frame.functionName;
    if (n === '(garbage collector)') return '(gc)';
    if (n === '(idle)') return '(idle)';
    if (n === '(program)') return '(program: V8, native)';
    return '(native)';
  }
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const src = /\/src\/(.+)$/.exec(url);
  if (src) {
    const p = src[1]!.split('/');
    // Two levels where the folder has sub-folders (models/runtime, writeback/fhir).
    if (p.length > 2) return `src/${p[0]}/${p[1]}`;
    return p.length > 1 ? `src/${p[0]}` : `src/${p[0]}`;
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return '(other)';
}

export function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // Innermost src/ frame at or above each node ('' when none), memoised per node.
  const srcMemo = new Map<number, string>();
  const srcAbove = (id: number): string => {
    const hit = srcMemo.get(id);
    if (hit !== undefined) return hit;
    const pkg = packageOf(byId.get(id)!.callFrame);
    const up = parent.get(id);
    const found = pkg.startsWith('src/') ? pkg : up === undefined ? '' : srcAbove(up);
    srcMemo.set(id, found);
    return found;
  };
  const stageOf = (id: number): string => {
    const src = srcAbove(id);
    if (src) return src;
    // No project frame: a library's own I/O callback (pg reading a reply, undici a response) or the event loop.
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const pkg = packageOf(byId.get(cur)!.callFrame);
      if (!pkg.startsWith('node:') && !pkg.startsWith('(')) return `(callbacks of ${pkg})`;
    }
    return '(event loop, microtasks, node internals)';
  };
  const inclusiveMemo = new Map<number, Set<string>>();
  const onStack = (id: number): Set<string> => {
    const hit = inclusiveMemo.get(id);
    if (hit) return hit;
    const up = parent.get(id);
    const set = new Set(up === undefined ? [] : onStack(up));
    const pkg = packageOf(byId.get(id)!.callFrame);
    if (!pkg.startsWith('(') && !pkg.startsWith('node:')) set.add(pkg);
    inclusiveMemo.set(id, set);
    return set;
  };
  const inclusiveMs = new Map<string, number>();
  const pkgMs = new Map<string, number>();
  const stageMs = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; the next delta is what sample i stands for.
    const ms = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(profile.samples[i]!)!;
    const pkg = packageOf(node.callFrame);
    if (pkg === '(idle)') {
      idle += ms;
      continue;
    }
    busy += ms;
    pkgMs.set(pkg, (pkgMs.get(pkg) ?? 0) + ms);
    const stage = pkg === '(gc)' ? '(gc)' : stageOf(node.id);
    stageMs.set(stage, (stageMs.get(stage) ?? 0) + ms);
    for (const k of onStack(node.id)) inclusiveMs.set(k, (inclusiveMs.get(k) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return {
    busyMs: busy,
    idleMs: idle,
    byPackage: sorted(pkgMs),
    byStage: sorted(stageMs),
    inclusive: sorted(inclusiveMs),
  };
}

/** Markdown table: name, ms per message, share; rows under `minShare` folded into "other". */
export function table(
  title: string,
  rows: Array<[string, number]>,
  messages: number,
  minShare = 0.01,
  total = rows.reduce((a, [, ms]) => a + ms, 0),
  /** Multiplies every figure (e.g. the process's CPU time / the sampled time). */
  scale = 1,
): string {
  messages = messages / scale;
  const inclusive = total !== rows.reduce((a, [, ms]) => a + ms, 0);
  const lines = [`| ${title} | CPU ms/message | share |`, '| --- | ---: | ---: |'];
  let other = 0;
  for (const [name, ms] of rows) {
    if (ms / total < minShare) other += ms;
    else lines.push(`| ${name} | ${(ms / messages).toFixed(3)} | ${((100 * ms) / total).toFixed(1)} % |`);
  }
  if (inclusive) return lines.join('\n');
  if (other > 0)
    lines.push(
      `| (each under ${minShare * 100} %) | ${(other / messages).toFixed(3)} | ${((100 * other) / total).toFixed(1)} % |`,
    );
  lines.push(`| **total sampled** | **${(total / messages).toFixed(2)}** | 100 % |`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, n] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: profile-summary.ts FILE.cpuprofile [messages]\n');
    process.exit(2);
  }
  const messages = Number(n ?? 1);
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  console.log(`busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms, ${messages} messages\n`);
  console.log(table('package (self time)', s.byPackage, messages));
  console.log();
  console.log(table('stage (innermost src/ folder on the stack)', s.byStage, messages));
  console.log();
  console.log(table('on the stack (inclusive)', s.inclusive, messages, 0.02, s.busyMs));
}
