/**
 * `gateway models list|show|register|validate|approve|alias|retire|card|history|import`: the
 * registry lives in the gateway's database, so every command goes through the running gateway's
 * API (PGlite is single-process). Model files (cards, ONNX, MLflow directories) are read here.
 * The token is --token, else GATEWAY_TOKEN (e.g. one with models:approve), else the admin token.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { parseModelCard } from '../models/registry/card.js';
import { compareSignatures, readMlflowModel, readMlflowReference } from '../models/registry/mlflow.js';
import { readOnnxSignature, sha256Hex } from '../models/runtime/onnx-model.js';
import { monitorTable } from '../monitoring/render.js';
import { resolveApi } from './api.js';
import { UsageError } from './usage-error.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

export class GatewayUnreachable extends Error {}

async function call(t: { base: string; token: string }, method: string, path: string, body?: unknown) {
  let res: Response;
  try {
    res = await fetch(`${t.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${t.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (e) {
    throw new GatewayUnreachable(`cannot reach the gateway at ${t.base}: ${(e as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let msg = text;
    try {
      msg = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
    } catch {}
    throw new Error(`gateway answered ${res.status}: ${msg}`);
  }
  return res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
}

const need = (v: string | undefined, what: string) => {
  if (!v) throw new UsageError(`models ${what}`);
  return v;
};
const enc = encodeURIComponent;

/** The body of a registration from a card file and its ONNX file (or a remote endpoint). */
async function registration(cardFile: string, onnxFile?: string, remote?: string) {
  if (!existsSync(cardFile)) throw new UsageError(`no such card: ${cardFile}`);
  const card = parseModelCard(parse(readFileSync(cardFile, 'utf8')), cardFile);
  if (remote) return { name: card.name, body: { card, remoteUrl: remote, source: `remote:${remote}` } };
  const file = onnxFile ?? resolve(dirname(cardFile), card.onnx.file);
  if (!existsSync(file)) throw new UsageError(`no such ONNX file: ${file}`);
  return {
    name: card.name,
    body: { card, onnx: readFileSync(file).toString('base64'), source: `file:${cardFile}` },
  };
}

function printVersions(
  models: Array<{
    name: string;
    aliases: Record<string, { version: string }>;
    versions: Array<Record<string, unknown>>;
  }>,
) {
  for (const m of models)
    for (const v of m.versions) {
      const tags = Object.entries(m.aliases)
        .filter(([, a]) => a.version === v.version)
        .map(([k]) => k);
      out(`${m.name}\t${v.version}\tsha256:${v.sha256}\t${v.status}\t${tags.join(',') || '-'}\t${v.kind}`);
    }
}

/** Returns the exit code, or undefined when the gateway is unreachable and the caller may fall back. */
export async function runModelsApi(sub: string, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      version: { type: 'string' },
      reason: { type: 'string' },
      share: { type: 'string' },
      onnx: { type: 'string' },
      remote: { type: 'string' },
      card: { type: 'string' },
      at: { type: 'string' },
      fhir: { type: 'boolean' },
    },
  });
  const t = resolveApi(values.url, values.token);
  const [a, b, c] = positionals;
  const show = (x: unknown) => out(typeof x === 'string' ? x : JSON.stringify(x, null, 2));
  switch (sub) {
    case 'list': {
      const r = await call(t, 'GET', '/models');
      if (values.json) show(r);
      else printVersions(r);
      return 0;
    }
    case 'show': {
      const name = need(a, 'show needs a model NAME');
      show(
        await call(
          t,
          'GET',
          values.version ? `/models/${enc(name)}/versions/${enc(values.version)}` : `/models/${enc(name)}`,
        ),
      );
      return 0;
    }
    case 'card': {
      const name = need(a, 'card needs a model NAME');
      const q = new URLSearchParams({
        ...(values.version ? { version: values.version } : {}),
        ...(values.fhir ? { format: 'fhir' } : {}),
      });
      show(await call(t, 'GET', `/models/${enc(name)}/card?${q}`));
      return 0;
    }
    case 'history': {
      const name = need(a, 'history needs a model NAME');
      const r = await call(
        t,
        'GET',
        `/models/${enc(name)}/history${values.at ? `?at=${enc(values.at)}` : ''}`,
      );
      if (values.json || values.at) show(r);
      else
        for (const m of r.moves as Array<Record<string, unknown>>)
          out(
            `${m.at}\t${m.alias}\t${m.fromVersion ?? '-'} -> ${m.version ?? '(cleared)'}\tby ${m.by}${m.reason ? `\t${m.reason}` : ''}`,
          );
      return 0;
    }
    case 'register': {
      const reg = await registration(
        need(a, 'register needs a CARD file (card.yaml)'),
        values.onnx,
        values.remote,
      );
      const v = await call(t, 'POST', `/models/${enc(reg.name)}/versions`, reg.body);
      out(`registered ${v.name}@${v.version} (${v.status}) sha256:${v.sha256}`);
      return 0;
    }
    case 'import': {
      const dir = need(a, 'import needs an MLflow model DIR');
      const m = readMlflowModel(dir);
      const problems = compareSignatures(m, await readOnnxSignature(m.onnx));
      if (problems.length > 0)
        throw new Error(`MLflow signature and ONNX graph disagree: ${problems.join('; ')}`);
      const cardFile = values.card ?? join(dir, 'card.yaml');
      const reg = await registration(cardFile, m.onnxFile);
      // A training reference logged with the run becomes the card's, unless the card has one.
      const reference = readMlflowReference(dir);
      if (reference && !reg.body.card.monitoring) reg.body.card.monitoring = reference;
      const sha = sha256Hex(m.onnx);
      if (reg.body.card.onnx.sha256 !== sha)
        throw new Error(`the card pins sha256 ${reg.body.card.onnx.sha256} but ${m.onnxFile} is ${sha}`);
      const source = `mlflow:${m.runId ? `run_id=${m.runId}` : dir}${m.modelUuid ? ` model_uuid=${m.modelUuid}` : ''}`;
      const v = await call(t, 'POST', `/models/${enc(reg.name)}/versions`, { ...reg.body, source });
      out(`imported ${v.name}@${v.version} from ${dir} as ${v.status} (sha256:${v.sha256}, ${source})`);
      return 0;
    }
    case 'validate': {
      const [name, version] = [
        need(a, 'validate needs NAME VERSION'),
        need(b, 'validate needs NAME VERSION'),
      ];
      const r = await call(t, 'POST', `/models/${enc(name)}/versions/${enc(version)}/validate`, {});
      for (const x of r.evidence.cases)
        out(`  ${x.pass ? 'ok  ' : 'FAIL'} ${x.name}: ${x.got} (expected ${x.expected})`);
      for (const p of r.evidence.problems) out(`  problem: ${p}`);
      out(r.ok ? `${name}@${version} validated` : `${name}@${version} failed validation`);
      return r.ok ? 0 : 1;
    }
    case 'approve': {
      const [name, version] = [need(a, 'approve needs NAME VERSION'), need(b, 'approve needs NAME VERSION')];
      const reason = need(values.reason, 'approve needs --reason TEXT');
      const v = await call(t, 'POST', `/models/${enc(name)}/versions/${enc(version)}/approve`, { reason });
      out(`${name}@${version} approved by ${v.approvedBy} at ${v.approvedAt}`);
      return 0;
    }
    case 'alias': {
      const name = need(a, 'alias needs NAME ALIAS VERSION|none');
      const alias = need(b, 'alias needs NAME ALIAS VERSION|none');
      const version = need(c, 'alias needs NAME ALIAS VERSION|none');
      const share = values.share === undefined ? undefined : Number(values.share);
      if (share !== undefined && !(share >= 0 && share <= 1))
        throw new UsageError('--share must be between 0 and 1');
      const m = await call(t, 'PUT', `/models/${enc(name)}/aliases/${enc(alias)}`, {
        version: version === 'none' ? null : version,
        ...(values.reason ? { reason: values.reason } : {}),
        ...(share !== undefined ? { share } : {}),
      });
      out(`${name} ${alias}: ${m.fromVersion ?? '-'} -> ${m.version ?? '(cleared)'}`);
      return 0;
    }
    case 'monitor': {
      const name = need(a, 'monitor needs a model NAME');
      const r = await call(
        t,
        'GET',
        `/models/${enc(name)}/monitoring${values.version ? `?version=${enc(values.version)}` : ''}`,
      );
      if (values.json) show(r);
      else for (const line of monitorTable(r)) out(line);
      return 0;
    }
    case 'retire': {
      const [name, version] = [need(a, 'retire needs NAME VERSION'), need(b, 'retire needs NAME VERSION')];
      await call(t, 'POST', `/models/${enc(name)}/versions/${enc(version)}/retire`, {});
      out(`${name}@${version} retired`);
      return 0;
    }
    default:
      throw new UsageError(`unknown models command '${sub}'`);
  }
}
