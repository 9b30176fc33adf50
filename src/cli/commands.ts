import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { loadMappings } from '../features/mapping.js';
import { splitMessages } from '../hl7/batch.js';
import { decodeHl7Bytes, encodeForCharset } from '../hl7/charset.js';
import { MllpClient } from '../mllp/client.js';
import { checkFeatureOrder, loadModels } from '../models/runtime/loader.js';
import { callApi, resolveApi } from './api.js';
import { formatTimeline } from './timeline.js';
import { UsageError } from './usage-error.js';

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

/** MSA-1 of every acknowledgment in an answer (one, several, or a batch ACK). */
function ackCodes(answer: string): string[] {
  return answer
    .split(/\r\n|\r|\n/)
    .filter((l) => l.startsWith('MSA'))
    .map((l) => l.split(l[3] ?? '|')[1] ?? '??');
}

/**
 * `gateway send FILE... [--host H] [--port P] [--batch] [--tls-ca F --tls-cert F --tls-key F]`: one
 * MLLP connection (TLS when a --tls option is given); every message of each file as a frame of its
 * own, or with --batch each file as one frame (a FHS/BHS batch or concatenated messages, answered
 * with one ACK per message or a batch ACK); prints every ACK. Bytes are sent as read, so a file in
 * the character set its MSH-18 names stays in it.
 */
export async function runSend(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      timeout: { type: 'string' },
      batch: { type: 'boolean' },
      'tls-ca': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-servername': { type: 'string' },
    },
  });
  if (positionals.length === 0) throw new UsageError('send needs at least one FILE');
  const config = loadConfig();
  const host = values.host ?? config.host;
  const port = Number(values.port ?? config.mllp.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    throw new UsageError(`invalid --port '${values.port}'`);
  const tlsFiles = { ca: values['tls-ca'], cert: values['tls-cert'], key: values['tls-key'] };
  for (const f of Object.values(tlsFiles))
    if (f && !existsSync(f)) throw new UsageError(`no such file: ${f}`);
  const useTls = Object.values(tlsFiles).some(Boolean) || !!values['tls-servername'];
  const messages: Array<{ file: string; bytes: Buffer }> = [];
  for (const file of positionals) {
    if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
    const raw = readFileSync(file);
    const decoded = decodeHl7Bytes(raw);
    const { messages: found } = splitMessages(decoded.text);
    if (!found.some((m) => m.startsWith('MSH')))
      throw new UsageError(`${file} holds no HL7 message (no MSH segment)`);
    if (values.batch) messages.push({ file, bytes: raw });
    else for (const text of found) messages.push({ file, bytes: encodeForCharset(text, decoded.declared) });
  }
  let client: MllpClient;
  try {
    client = await MllpClient.connect({
      host,
      port,
      timeoutMs: Number(values.timeout ?? 30_000),
      ...(useTls
        ? {
            tls: {
              ...(tlsFiles.ca ? { ca: tlsFiles.ca } : {}),
              ...(tlsFiles.cert ? { cert: tlsFiles.cert } : {}),
              ...(tlsFiles.key ? { key: tlsFiles.key } : {}),
              ...(values['tls-servername'] ? { servername: values['tls-servername'] } : {}),
            },
          }
        : {}),
    });
  } catch (e) {
    err(`gateway send: cannot connect to ${host}:${port}: ${(e as Error).message}`);
    return 1;
  }
  let failures = 0;
  try {
    for (const m of messages) {
      const ack = await client.send(m.bytes);
      const codes = ackCodes(ack);
      failures += codes.length === 0 ? 1 : codes.filter((c) => c !== 'AA' && c !== 'CA').length;
      out(`# ${m.file}: ${codes.join(' ') || '??'}`);
      out(ack.replace(/\r/g, '\n').trimEnd());
    }
  } catch (e) {
    err(`gateway send: ${(e as Error).message}`);
    return 1;
  } finally {
    await client.close();
  }
  return failures > 0 ? 1 : 0;
}

export { runMappingsCheck } from './mappings-check.js';

/**
 * `gateway models list|card NAME` from the bundled model files (`paths.models`), not from a
 * gateway: with `--files`, or when the gateway cannot be reached. Loading verifies every ONNX file
 * against its card. The options the API form takes are accepted and have no effect here.
 */
export async function runModels(sub: string | undefined, argv: string[]): Promise<number> {
  const args = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      version: { type: 'string' },
      fhir: { type: 'boolean' },
      files: { type: 'boolean' },
    },
  }).positionals;
  const config = loadConfig();
  const registry = await loadModels(resolve(config.paths.models));
  try {
    if (sub === 'list') {
      const { mappings } = loadMappings(resolve(config.paths.mappings));
      for (const m of registry.list()) {
        const bound = mappings.filter((x) => x.model === m.name);
        for (const b of bound)
          checkFeatureOrder(
            m,
            b.features.map((f) => f.name),
            b.file,
          );
        out(
          `${m.name}\t${m.version}\tsha256:${m.sha256}\tfeatures: ${m.featureNames.join(', ')}\tmappings: ${bound.map((b) => b.version).join(', ') || 'none'}`,
        );
      }
      return 0;
    }
    if (sub === 'card') {
      const name = args[0];
      if (!name) throw new UsageError('models card needs a model NAME');
      const m = registry.get(name);
      if (!m) {
        err(
          `gateway: no model named '${name}' (have: ${registry
            .list()
            .map((x) => x.name)
            .join(', ')})`,
        );
        return 1;
      }
      out(readFileSync(join(resolve(config.paths.models), name, 'card.yaml'), 'utf8'));
      return 0;
    }
    throw new UsageError(`unknown models command '${sub ?? ''}'`);
  } finally {
    await registry.close();
  }
}

/** `gateway lineage show ID | verify`, through the running gateway's API. */
export async function runLineage(sub: string | undefined, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { url: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } },
  });
  const api = resolveApi(values.url, values.token);
  if (sub === 'verify') {
    const { status, body } = await callApi(api, 'GET', '/lineage/verify');
    if (status !== 200) throw new Error(`gateway answered ${status}: ${JSON.stringify(body)}`);
    const r = body as {
      ok: boolean;
      entries: number;
      head?: string;
      brokenAt?: number;
      reason?: string;
      problems?: Array<{ seq: number; shard?: number; kind: string; reason: string }>;
      shards?: unknown[];
      checkpoints?: number;
    };
    if (r.ok) {
      const more = r.shards ? `; ${r.shards.length} shards, ${r.checkpoints ?? 0} checkpoints` : '';
      out(`lineage ok: ${r.entries} entries verified, head ${r.head ?? ''}${more}`.trimEnd());
      return 0;
    }
    out(`lineage BROKEN at entry ${r.brokenAt}: ${r.reason}`);
    for (const p of r.problems ?? [])
      out(`  ${p.kind.padEnd(9)} ${p.shard ? `shard ${p.shard} ` : ''}entry ${p.seq}: ${p.reason}`);
    return 1;
  }
  if (sub === 'show') {
    const id = positionals[0];
    if (!id) throw new UsageError('lineage show needs an ID (gateway message id or MSH-10)');
    let { status, body } = await callApi(api, 'GET', `/lineage/${encodeURIComponent(id)}`);
    let records: unknown[] = status === 200 ? [body] : [];
    if (status === 404) {
      ({ status, body } = await callApi(api, 'GET', `/lineage?controlId=${encodeURIComponent(id)}`));
      if (status === 200) records = body as unknown[];
    }
    if (status !== 200 && status !== 404)
      throw new Error(`gateway answered ${status}: ${JSON.stringify(body)}`);
    if (records.length === 0) {
      err(`no lineage record for '${id}'`);
      return 1;
    }
    for (const r of records) out(values.json ? JSON.stringify(r, null, 2) : formatTimeline(r as never));
    return 0;
  }
  throw new UsageError(`unknown lineage command '${sub ?? ''}'`);
}
