/**
 * The governed model runtime: what the pipeline, the V2 routes and the jobs score with. It keeps
 * an ONNX session (behind a micro-batcher) for every version an alias points at, reads the
 * aliases from the database (so every process of a cluster follows a move within `refreshMs`),
 * and answers, per model and patient, the version that writes (production) and the versions that
 * only score and record (shadow for every patient, canary for a stable share of patients).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { Database } from '../../db/database.js';
import type { Mapping } from '../../features/mapping.js';
import type { Logger } from '../../observability/logger.js';
import {
  type Alias,
  type AliasState,
  aliases,
  GovernanceError,
  getVersion,
  type ModelVersion,
  moveAlias,
  recordFailedValidation,
  registerVersion,
  setValidated,
  versionBytes,
} from '../registry/governance.js';
import { type BatcherObserver, type BatcherOptions, streamModel } from './batcher.js';
import { checkFeatureOrder, type ModelRegistry, readBundledModels } from './loader.js';
import { type LoadedModel, openModelBytes, replayGoldenCases } from './onnx-model.js';
import { createRemoteModel, type RemoteOptions } from './remote.js';

export interface Companion {
  alias: Exclude<Alias, 'production'>;
  model: LoadedModel;
}

export interface GovernedRegistry extends ModelRegistry {
  /** Shadow (always) and canary (for its share of patients, stable by patient) of a model. */
  companions(name: string, patientKey: string): Companion[];
  /** A version by name, loaded on demand (V2 requests for a version, validation). */
  version(name: string, version: string): Promise<LoadedModel>;
  aliasOf(name: string, version: string): Alias | undefined;
  /** Re-reads the aliases now (each process also does it every refreshMs). */
  refresh(): Promise<void>;
  validate(name: string, version: string, by: string): Promise<{ ok: boolean; evidence: unknown }>;
  /** Registers the bundled models (approved, production when none is set). */
  bootstrap(dir: string): Promise<ModelVersion[]>;
}

export interface GovernedOptions {
  db: Database;
  logger: Logger;
  mappings: readonly Mapping[];
  batcher: BatcherOptions;
  /** Stream batches on an inference thread per version (see inference-thread.ts). */
  inferenceThread?: boolean;
  sessionOptions?: InferenceSession.SessionOptions;
  /** What each version's micro-batcher reports to (metrics). */
  observeBatcher?: (name: string, version: string) => BatcherObserver;
  remote: RemoteOptions;
  refreshMs: number;
}

/** Whether a patient falls in a canary's share: a hash of model and patient, stable across processes. */
export function inCanary(name: string, patientKey: string, share: number): boolean {
  if (share <= 0) return false;
  if (share >= 1) return true;
  const h = createHash('sha256').update(`${name}\u001f${patientKey}`).digest();
  return h.readUInt32BE(0) / 0x1_0000_0000 < share;
}

export function createGovernedRegistry(o: GovernedOptions): GovernedRegistry {
  const loaded = new Map<string, Promise<LoadedModel>>();
  let state: AliasState[] = [];
  let production = new Map<string, LoadedModel>();
  let others = new Map<string, Array<{ alias: Companion['alias']; model: LoadedModel; share: number }>>();
  const key = (name: string, version: string) => `${name}@${version}`;

  async function open(v: ModelVersion, verifyGolden: boolean): Promise<LoadedModel> {
    const label = `registry:${v.name}@${v.version}`;
    if (v.kind === 'remote') return createRemoteModel(v, o.remote);
    const bytes = await versionBytes(o.db, v.name, v.version);
    if (!bytes) throw new GovernanceError(`${v.name}@${v.version} has no ONNX bytes`);
    const model = await openModelBytes(v.card, label, bytes, {
      verifyGoldenCases: verifyGolden,
      ...(o.sessionOptions ? { sessionOptions: o.sessionOptions } : {}),
    });
    return serve(model, bytes);
  }

  /** An open session behind its micro-batcher (and inference thread, when configured). */
  function serve(model: LoadedModel, bytes: Uint8Array): LoadedModel {
    return streamModel(model, bytes, {
      batcher: o.batcher,
      inferenceThread: o.inferenceThread ?? false,
      sessionOptions: o.sessionOptions,
      observer: o.observeBatcher?.(model.name, model.version),
      onThreadExit: (err) =>
        o.logger.error(
          { model: model.name, version: model.version, err: err.message },
          'inference thread stopped; batches run on the event loop',
        ),
    });
  }

  function load(name: string, version: string): Promise<LoadedModel> {
    const k = key(name, version);
    let p = loaded.get(k);
    if (!p) {
      p = (async () => {
        const v = await getVersion(o.db, name, version);
        if (!v) throw new GovernanceError(`no version ${name}@${version}`);
        return open(v, false);
      })();
      loaded.set(k, p);
      p.catch(() => loaded.delete(k));
    }
    return p;
  }

  async function refresh() {
    const next = await aliases(o.db);
    const prod = new Map<string, LoadedModel>();
    const oth = new Map<string, Array<{ alias: Companion['alias']; model: LoadedModel; share: number }>>();
    for (const a of next) {
      let model: LoadedModel;
      try {
        model = await load(a.name, a.version);
      } catch (err) {
        o.logger.error(
          { model: a.name, version: a.version, err: (err as Error).message },
          'cannot load model version',
        );
        continue;
      }
      if (a.alias === 'production') prod.set(a.name, model);
      else oth.set(a.name, [...(oth.get(a.name) ?? []), { alias: a.alias, model, share: a.share }]);
    }
    const changed = JSON.stringify(next) !== JSON.stringify(state);
    state = next;
    production = prod;
    others = oth;
    if (changed)
      o.logger.info({ aliases: next.map((a) => `${a.name}:${a.alias}=${a.version}`) }, 'model aliases');
  }

  const timer = setInterval(
    () =>
      void refresh().catch((err) => o.logger.warn({ err: (err as Error).message }, 'alias refresh failed')),
    o.refreshMs,
  );
  timer.unref();

  return {
    get: (name) => production.get(name),
    list: () => [...production.values()],
    companions(name, patientKey) {
      const list = others.get(name);
      if (!list) return [];
      return list
        .filter((c) => c.alias === 'shadow' || inCanary(name, patientKey, c.share))
        .map((c) => ({ alias: c.alias, model: c.model }));
    },
    version: load,
    aliasOf(name, version) {
      return state.find((a) => a.name === name && a.version === version)?.alias;
    },
    refresh,
    async validate(name, version, by) {
      const v = await getVersion(o.db, name, version);
      if (!v) throw new GovernanceError(`no version ${name}@${version}`);
      if (v.status !== 'draft' && v.status !== 'validated')
        throw new GovernanceError(`${name}@${version} is ${v.status}; only a draft can be validated`);
      const problems: string[] = [];
      let cases: Awaited<ReturnType<typeof replayGoldenCases>> = [];
      let model: LoadedModel | undefined;
      try {
        model = await open(v, false);
        cases = await replayGoldenCases(model);
        if (cases.length === 0) problems.push('the model card has no golden cases');
        for (const c of cases.filter((x) => !x.pass))
          problems.push(`golden case '${c.name}' gives ${c.got}, card expects ${c.expected}`);
        for (const m of o.mappings.filter((x) => x.model === name)) {
          try {
            checkFeatureOrder(
              model,
              m.features.map((f) => f.name),
              m.file,
            );
          } catch (err) {
            problems.push((err as Error).message);
          }
        }
      } catch (err) {
        problems.push((err as Error).message);
      } finally {
        await model?.close();
      }
      const evidence = {
        at: new Date().toISOString(),
        by,
        tolerance: v.card.goldenTolerance,
        cases,
        problems,
      };
      if (problems.length === 0) await setValidated(o.db, name, version, evidence);
      else await recordFailedValidation(o.db, name, version, evidence);
      return { ok: problems.length === 0, evidence };
    },
    async bootstrap(dir) {
      // Each bundled model is opened here once (hash, session, shape and golden cases checked
      // against its card); the session is the one the registry then serves for that version.
      const out: ModelVersion[] = [];
      for (const b of await readBundledModels(resolve(dir))) {
        const model = await openModelBytes(b.card, b.cardFile, b.bytes, {
          ...(o.sessionOptions ? { sessionOptions: o.sessionOptions } : {}),
        });
        let kept = false;
        try {
          const mapping = o.mappings.find((x) => x.model === model.name);
          const v = await registerVersion(o.db, {
            name: model.name,
            version: model.version,
            kind: 'onnx',
            sha256: model.sha256,
            onnx: b.bytes,
            signature: model.signature!(),
            ...(mapping ? { mappingVersion: mapping.version } : {}),
            card: b.card,
            source: `bundled:${model.name}/card.yaml`,
            by: 'bootstrap',
            approved: { by: 'bootstrap', reason: 'bundled demo model, approved at start (see README)' },
          });
          out.push(v);
          await moveAlias(o.db, {
            name: model.name,
            alias: 'production',
            version: model.version,
            by: 'bootstrap',
            reason: 'bundled demo model',
            onlyIfUnset: true,
          });
          const k = key(model.name, model.version);
          if (v.sha256 === model.sha256 && !loaded.has(k)) {
            // Served with the card as the registry keeps it, as any later load of the version is.
            const recorded = Object.assign(Object.create(model) as LoadedModel, { card: v.card });
            loaded.set(k, Promise.resolve(serve(recorded, b.bytes)));
            kept = true;
          }
        } finally {
          if (!kept) await model.close();
        }
      }
      await refresh();
      return out;
    },
    async close() {
      clearInterval(timer);
      const all = [...loaded.values()];
      loaded.clear();
      await Promise.allSettled(all.map(async (p) => (await p).close()));
    },
  };
}
